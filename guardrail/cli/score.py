"""``guardrail score``: confidence at the question, each paragraph end, and the outcome."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from guardrail.models import DEFAULT_GENERATOR

_PARAGRAPH_END = re.compile(r"\n")


def register(sub: Any) -> None:
    """Add the ``score`` sub-command."""
    parser = sub.add_parser(
        "score",
        help="score a question and answer at the question, each paragraph end and the outcome",
    )
    parser.add_argument("--model", default=DEFAULT_GENERATOR, help="scorer model reference")
    parser.add_argument("--question", required=True)
    parser.add_argument("--answer", default="", help="the answer text ('' scores the question)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def positions(question: str, answer: str, scorer: Any) -> list[dict[str, Any]]:
    """Scores at the question, after every line that ends inside the answer, and the outcome."""
    session = scorer.open_session(question)
    rows: list[dict[str, Any]] = [{"stage": "question", "chars": 0, "confidence": session.score()}]
    start = 0
    for match in _PARAGRAPH_END.finditer(answer):
        end = match.end()
        if not answer[start:end].strip():
            start = end
            continue
        session.append(answer[start:end])
        rows.append({"stage": "process", "chars": end, "confidence": session.score()})
        start = end
    if answer:
        session.append(answer[start:])
        rows.append({"stage": "outcome", "chars": len(answer), "confidence": session.score()})
    session.close()
    return rows


def run(args: argparse.Namespace) -> int:
    """Load the scorer and print the table (or JSON)."""
    from guardrail.scorers.finece import FineCEScorer

    scorer = FineCEScorer.from_ref(args.model, device=args.device)
    rows = positions(args.question, args.answer, scorer)
    if args.json:
        print(json.dumps({"model": args.model, "positions": rows}, indent=2))
        return 0
    print(f"{'stage':<9} {'chars':>6}  confidence")
    for row in rows:
        bar = "#" * round(row["confidence"] * 20)
        print(f"{row['stage']:<9} {row['chars']:>6}  {row['confidence']:.3f} {bar}")
    return 0
