"""``guardrail calibrate``: fit a ``logprob:`` scorer's calibration map for one model.

    guardrail calibrate --scorer logprob:min_window --data labels.jsonl
    guardrail calibrate --scorer logprob:mean_logprob --model gpt-4o-mini --data graded.jsonl

``--data`` is a label file of ``guardrail data build`` (its model is the build's generator, and
the logprobs are recomputed by a forward pass of that generator) or a graded JSONL of
``{"question", "answer", "correct", "logprobs"}`` rows (see :mod:`guardrail.scorers.graded`;
rows without logprobs need ``--generator``, a local model reference). The map goes into the
calibration store, where ``logprob:`` scorers find it for that model, or to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from guardrail.entropy import TokenLogprobs, parse_logprobs
    from guardrail.errors import GuardrailConfigError
    from guardrail.scorers.calibrations import write_calibration
    from guardrail.scorers.graded import Recomputer, fit_logprob_calibration, read_graded
    from guardrail.scorers.logprob import LogprobScorer, parse_logprob_ref

    signal = parse_logprob_ref(args.scorer)
    scorer = LogprobScorer(signal, window=args.window, calibrations={})
    graded = read_graded(args.data)
    model = args.model or graded.generator
    if not model:
        raise GuardrailConfigError("name the model whose answers these are: --model NAME")
    if not graded.answers:
        raise GuardrailConfigError(f"{args.data}: no graded answers")
    local = args.generator or (
        graded.generator
        if graded.generator and not graded.generator.startswith("litellm:")
        else None
    )
    recompute: Recomputer | None = None
    if local is not None and any(answer.tokens is None for answer in graded.answers):
        from guardrail.generation import LocalGenerator

        generator = LocalGenerator.from_ref(local, device=args.device)
        print(f"[calibrate] recomputing logprobs with {local}", file=sys.stderr)

        def recompute(messages: Sequence[dict[str, str]], answer: str) -> list[TokenLogprobs]:
            steps = generator.score_tokens(messages, answer, top_logprobs=args.top_logprobs)
            return parse_logprobs([step.openai_logprob() for step in steps])

    calibration = fit_logprob_calibration(
        scorer, model, graded, recompute=recompute, source=str(args.data)
    )
    path = write_calibration(calibration, Path(args.out) if args.out else None)
    if args.json:
        print(json.dumps({"out": str(path), **calibration.to_dict()}, indent=2, sort_keys=True))
        return 0
    fit = calibration.fit
    print(f"{path}: {calibration.scorer} for {model!r}")
    print(f"  {fit['answers']} answers ({fit['correct']} right), map {calibration.platt.to_dict()}")
    auroc = fit["auroc"]
    print(
        f"  in-sample Brier {fit['brier_raw']:.4f} raw -> {fit['brier_calibrated']:.4f} "
        f"calibrated; AUROC {'n/a' if auroc is None else format(auroc, '.3f')}"
    )
    return 0


def register(sub: Any) -> None:
    """Add the ``calibrate`` sub-command."""
    parser = sub.add_parser(
        "calibrate",
        help="fit a logprob: scorer's calibration map for one model from graded answers",
        description="Fit the Platt map of a training-free logprob: scorer for one model.",
    )
    parser.add_argument(
        "--scorer",
        required=True,
        help="logprob:mean_logprob, logprob:min_window or logprob:mean_entropy",
    )
    parser.add_argument(
        "--data", required=True, help="label file of `guardrail data build` or graded JSONL"
    )
    parser.add_argument("--model", help="the model whose answers these are (default: the build's)")
    parser.add_argument("--generator", help="local model reference to recompute logprobs with")
    parser.add_argument("--window", type=int, default=16, help="min_window: tokens per window")
    parser.add_argument("--top-logprobs", type=int, default=5, help="alternatives recomputed")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", help="write the map here instead of the calibration store")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)
