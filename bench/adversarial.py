"""Re-run the adversarial-suffix suite on the answers of an earlier ``eval --adversarial`` report.

    python bench/adversarial.py --report reports/adversarial.json --scorer builtin:finece-smollm2
    python bench/adversarial.py --report reports/adversarial.json --scorer ARTIFACT --legacy

Scores the very same generated answers (the report's ``generated`` list) with ``--scorer``, so
a retrained scorer (``guardrail train --adversarial-augment``) is compared with the shipped one
on identical text: a before/after measured in one run each, printed as JSON. ``--legacy``
tokenizes question and answer the way releases before the threat-model fixes did (chat special
tokens in the text become real special tokens), to show what the forged-turn family did then.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _legacy(scorer: Any) -> None:
    """Tokenize untrusted text with special tokens matched, as before the fix."""
    import guardrail.scorers.prompt as prompt

    def encode_plain(tokenizer: Any, text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    prompt._encode_plain = encode_plain  # type: ignore[assignment]


def main() -> None:
    """Score the report's answers with and without every suffix; print the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", required=True, help="JSON written by eval --adversarial")
    parser.add_argument("--scorer", default="builtin:finece-smollm2")
    parser.add_argument("--legacy", action="store_true", help="pre-fix tokenization")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from guardrail.evaluation.adversarial import adversarial_report, score_adversarial
    from guardrail.scorers import create_scorer

    generated = json.loads(Path(args.report).read_text(encoding="utf-8"))["generated"]
    answers = [(g["question"], g["answer"], bool(g["correct"])) for g in generated]
    scorer = create_scorer(args.scorer, device=args.device)
    if args.legacy:
        _legacy(scorer)
    report = adversarial_report(score_adversarial(scorer, answers))
    report.pop("groups")
    report.pop("suffixes")
    print(json.dumps({"scorer": args.scorer, "legacy": args.legacy, **report}, indent=2))


if __name__ == "__main__":
    main()
