"""``guardrail adapt``: the best guard the measurements support, for a generator and its questions.

    guardrail adapt --generator builtin:smollm2-135m-instruct --task short-answer
        --data my-questions.jsonl --out guards/mine [--budget-minutes 30]
    guardrail adapt --generator REF --task facts --limit 150 --out DIR
    guardrail adapt --generator REF --task short-answer --from-review reviews.db --out DIR

The questions are split by question (fixed seed) into fit, dev and test (test a quarter); the
generator's answers and Monte Carlo labels are built on fit and dev (resumable: re-running the
same command continues), every candidate is fitted on fit, chosen on dev by the rule in the card
and reported on the untouched test split. ``DIR`` is then a scorer reference (``--scorer DIR``,
``scorer: {model: DIR}``, ``guardrail scorer info DIR``) and ``DIR/policy.yaml`` a policy with
the suggested threshold. See docs/adapt.md.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _settings(args: argparse.Namespace) -> Any:
    from guardrail.lab.adapt.run import AdaptSettings

    return AdaptSettings(
        generator=args.generator,
        task=args.task,
        out=Path(args.out),
        data=args.data,
        limit=args.limit,
        budget_minutes=args.budget_minutes,
        from_review=args.from_review,
        base_scorer=args.base_scorer,
        preset=args.preset,
        target_accuracy=args.target_accuracy,
        seed=args.seed,
        k=args.k,
        levels=args.levels,
        max_new_tokens=args.max_new_tokens,
        agreement_k=args.agreement_k,
        finetune_steps=args.finetune_steps,
        device=args.device,
        n_bootstrap=args.bootstrap,
    )


def _num(value: Any) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.3f}"
    return "n/a"


def _ci(figures: dict[str, Any]) -> str:
    lo, hi = figures.get("auroc_ci") or (math.nan, math.nan)
    return f"{_num(figures.get('auroc'))} [{_num(lo)}, {_num(hi)}]"


def _run(args: argparse.Namespace) -> int:
    from guardrail.lab.adapt.run import adapt

    result = adapt(_settings(args))
    comparison = result.comparison
    if args.json:
        print(json.dumps({"out": str(result.out), **comparison.to_dict()}, indent=2))
        return 0
    print(f"{result.out}: chose {comparison.choice} ({comparison.why})")
    print(f"{'candidate':<24} {'dev AUROC':>9} {'test AUROC [95% CI]':>24} {'Brier':>6} {'ECE':>6}")
    for fitted in comparison.fitted:
        dev, test = comparison.dev[fitted.name], comparison.test[fitted.name]
        mark = "*" if fitted.name == comparison.choice else " "
        print(
            f"{mark}{fitted.name:<23} {_num(dev.get('auroc')):>9} {_ci(test):>24} "
            f"{_num(test.get('brier')):>6} {_num(test.get('ece')):>6}"
        )
    for name, why in comparison.skipped.items():
        print(f" {name:<23} not fitted: {why}")
    free = comparison.best_free
    if free:
        print(f"best free signal on the test answers: {free['signal']} {_ci(free)}")
    threshold = comparison.threshold
    if threshold.get("threshold") is not None:
        print(
            f"threshold for {threshold['target_accuracy']} accuracy (dev): "
            f"{threshold['threshold']:.3f} (coverage {threshold['coverage']:.2f}) -> "
            f"{result.out / 'policy.yaml'}"
        )
    else:
        print(f"no threshold reached {threshold['target_accuracy']} accuracy on the dev answers")
    for note in result.notes:
        print(f"note: {note}")
    print(
        f"took {result.seconds['total']:.0f} s: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items() if k != "total")
    )
    return 0


def register(sub: Any) -> None:
    """Add the ``adapt`` sub-command."""
    parser = sub.add_parser(
        "adapt",
        help="adapt the guard to one generator and kind of question (labels, candidates, choice)",
        description="Build labels of the generator on your questions, fit and compare every "
        "candidate guard on the same answers, choose on dev, report on held-out test "
        "questions, and write a scorer folder and a policy.",
    )
    parser.add_argument("--generator", required=True, help="local model: builtin:NAME or a path")
    parser.add_argument(
        "--task",
        required=True,
        help="short-answer, multiple-choice, numeric (with --data) or a built-in family "
        "(facts, fact-choice, table-lookup, unit-conversion, synthetic)",
    )
    parser.add_argument("--data", help="your questions (JSONL, the task's format)")
    parser.add_argument("--out", required=True, help="the folder to write (a scorer reference)")
    parser.add_argument("--limit", type=int, help="use the first N questions")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        help="stop building cleanly after this share of the time and use what was built",
    )
    parser.add_argument(
        "--from-review",
        metavar="DB_OR_URL",
        help="also use the decided review items of this generator as outcome labels",
    )
    parser.add_argument(
        "--base-scorer", default="builtin:finece-smollm2", help="the FineCE scorer to adapt"
    )
    parser.add_argument("--preset", default="default", help="the preset policy.yaml extends")
    parser.add_argument(
        "--target-accuracy", type=float, default=0.9, help="accuracy the threshold aims at"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and sampling")
    parser.add_argument("--k", type=int, default=6, help="Monte Carlo samples per state")
    parser.add_argument("--levels", type=int, default=1, help="process levels of the labels")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument(
        "--agreement-k", type=int, default=4, help="sampled answers for the agreement feature"
    )
    parser.add_argument(
        "--finetune-steps",
        type=int,
        default=40,
        help="steps of the warm-start fine-tune (0: skip it; skipped when the budget is short)",
    )
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="resamples of the test intervals"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)
