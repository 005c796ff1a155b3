"""``guardrail score``: confidence at the question, at line ends of the answer, and the outcome.

The answer comes from ``--answer``, ``--answer-file PATH`` or standard input
(``--answer-file -``). Line ends are scored at most ``--max-checkpoints`` times (spread evenly
over the answer), on one incremental session whose input the scorer bounds to
``--max-input-tokens``: a long answer costs a bounded number of bounded forward passes, and a
checkpoint tokenizes the text since the previous one (within the scorer's character window,
:mod:`~guardrail.scorers.answer_tokens`), never the answer so far. On a CPU the floor is one
forward pass of up to ``--max-input-tokens`` tokens per checkpoint whose window moved.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError

DEFAULT_SCORER = "builtin:finece-smollm2"
DEFAULT_MAX_CHECKPOINTS = 32
_PARAGRAPH_END = re.compile(r"\n")


def register(sub: Any) -> None:
    """Add the ``score`` sub-command."""
    parser = sub.add_parser(
        "score",
        help="score a question and answer at the question, line ends and the outcome",
    )
    parser.add_argument("--model", default=DEFAULT_SCORER, help="scorer model reference")
    parser.add_argument("--question", required=True)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--answer", default=None, help="the answer text ('' scores the question)")
    source.add_argument(
        "--answer-file", default=None, help="read the answer from this file ('-': standard input)"
    )
    parser.add_argument(
        "--max-checkpoints",
        type=int,
        default=DEFAULT_MAX_CHECKPOINTS,
        help="most line ends scored, spread evenly (default %(default)s)",
    )
    parser.add_argument(
        "--max-input-tokens",
        type=int,
        default=4096,
        help="the scorer reads at most this many tokens per estimate (default %(default)s)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _spread(ends: list[int], limit: int) -> list[int]:
    """At most ``limit`` of ``ends``, evenly spaced, the last one always included."""
    if len(ends) <= limit:
        return ends
    if limit <= 0:
        return []
    step = len(ends) / limit
    return [ends[min(len(ends) - 1, int((i + 1) * step) - 1)] for i in range(limit)]


def positions(
    question: str, answer: str, scorer: Any, max_checkpoints: int = DEFAULT_MAX_CHECKPOINTS
) -> list[dict[str, Any]]:
    """Scores at the question, after up to ``max_checkpoints`` line ends, and the outcome."""
    session = scorer.open_session(question)
    try:
        rows: list[dict[str, Any]] = [
            {"stage": "question", "chars": 0, "confidence": session.score()}
        ]
        ends, start = [], 0
        for match in _PARAGRAPH_END.finditer(answer):
            if answer[start : match.end()].strip():
                ends.append(match.end())
            start = match.end()
        fed = 0
        for end in _spread(ends, max_checkpoints):
            session.append(answer[fed:end])
            fed = end
            rows.append({"stage": "process", "chars": end, "confidence": session.score()})
        if answer:
            session.append(answer[fed:])
            rows.append({"stage": "outcome", "chars": len(answer), "confidence": session.score()})
    finally:
        session.close()
    return rows


def _answer(args: argparse.Namespace) -> str:
    if args.answer_file is None:
        return str(args.answer or "")
    if args.answer_file == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(args.answer_file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GuardrailConfigError(f"--answer-file {path}: {exc.strerror or exc}") from None
    return data.decode("utf-8", errors="replace")


def run(args: argparse.Namespace) -> int:
    """Load the scorer and print the table (or JSON)."""
    from guardrail.scorers import create_scorer

    if args.max_checkpoints < 0:
        raise GuardrailConfigError("--max-checkpoints must be >= 0")
    if args.max_input_tokens < 256:
        raise GuardrailConfigError("--max-input-tokens must be >= 256")
    answer = _answer(args)
    scorer = create_scorer(args.model, device=args.device, max_input_tokens=args.max_input_tokens)
    rows = positions(args.question, answer, scorer, args.max_checkpoints)
    if args.json:
        print(json.dumps({"model": args.model, "positions": rows}, indent=2))
        return 0
    print(f"{'stage':<9} {'chars':>6}  confidence")
    for row in rows:
        bar = "#" * round(row["confidence"] * 20)
        print(f"{row['stage']:<9} {row['chars']:>6}  {row['confidence']:.3f} {bar}")
    return 0
