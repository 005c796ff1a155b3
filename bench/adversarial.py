"""Re-run the adversarial-suffix suite on the answers of an earlier ``eval --adversarial`` report.

    python bench/adversarial.py --report reports/adversarial.json --scorer builtin:finece-smollm2
    python bench/adversarial.py --report reports/adversarial.json --scorer ARTIFACT --legacy
    python bench/adversarial.py --report reports/adversarial.json \
        --scorer hybrid:builtin:finece-smollm2 --generator builtin:smollm2-135m-instruct

Scores the very same generated answers (the report's ``generated`` list) with ``--scorer``, so
a retrained scorer (``guardrail train --adversarial-augment``) is compared with the shipped one
on identical text: a before/after measured in one run each, printed as JSON. ``--legacy``
tokenizes question and answer the way releases before the threat-model fixes did (chat special
tokens in the text become real special tokens), to show what the forged-turn family did then.
A scorer that reads the generator's logprobs (``logprob:``, ``hybrid:``) needs ``--generator``
(default: the report's): it is bound to that model and the logprobs of every answer, with and
without its suffix, are recomputed by a forward pass over the report's task prompt.
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
    parser.add_argument("--generator", help="logprob:/hybrid: scorers: the answers' model")
    args = parser.parse_args()

    from guardrail.generation import LocalGenerator
    from guardrail.lab.evaluation.adversarial import adversarial_report, score_adversarial
    from guardrail.lab.tasks import get_task
    from guardrail.scorers import create_text_scorer

    source = json.loads(Path(args.report).read_text(encoding="utf-8"))
    generated = source["generated"]
    answers = [(g["question"], g["answer"], bool(g["correct"])) for g in generated]
    meta = source.get("meta", {})
    model = args.generator or meta.get("generator")

    prompts: list[Any] = []  # the report's task, built once, only for a logprob-reading scorer

    def load_generator() -> LocalGenerator:
        if not model or not meta.get("task"):
            raise SystemExit(f"{args.scorer} reads logprobs: give --generator and a meta.task")
        prompts.append(get_task(meta["task"]).prompt)
        return LocalGenerator.from_ref(model, device=args.device)

    scorer = create_text_scorer(
        args.scorer,
        generator=model,
        load_generator=load_generator,
        prompt=lambda question: prompts[0](question),  # load_generator ran before any prompt
        device=args.device,
    )
    if args.legacy:
        _legacy(scorer)
    report = adversarial_report(score_adversarial(scorer, answers))
    report.pop("groups")
    report.pop("suffixes")
    print(json.dumps({"scorer": args.scorer, "legacy": args.legacy, **report}, indent=2))


if __name__ == "__main__":
    main()
