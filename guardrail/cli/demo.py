"""``guardrail demo``: the guarded agent on the embedded model (the README's main job)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = sub.add_parser("demo", help="run a guarded LangChain agent on the embedded model")
    parser.add_argument("--policy", default="default", help="preset name or policy file")
    parser.add_argument("--scorer", default=None, help="scorer reference (default: the policy's)")
    parser.add_argument("--generator", default="builtin:smollm2-135m-instruct")
    parser.add_argument(
        "--fallback-model",
        default=None,
        help="escalation target (builtin:gemma3-270m downloads about 240 MB once; default: "
        "Gemma when converted in the cache, else the generator itself, said so)",
    )
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--state-dir", type=Path, default=None, help="review DB and audit log")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from guardrail.demo import DEMO_QUESTIONS, run_demo

    questions = DEMO_QUESTIONS[: args.limit] if args.limit else DEMO_QUESTIONS
    run_demo(
        questions=questions,
        policy=args.policy,
        scorer=args.scorer,
        generator_ref=args.generator,
        max_tokens=args.max_tokens,
        state_dir=args.state_dir,
        fallback_ref=args.fallback_model,
    )
    return 0
