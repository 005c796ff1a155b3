"""``guardrail calibrate``: fit a ``logprob:`` scorer's map or a ``hybrid:`` combiner for one model.

    guardrail calibrate --scorer logprob:min_window --data labels.jsonl
    guardrail calibrate --scorer logprob:mean_logprob --model gpt-4o-mini --data graded.jsonl
    guardrail calibrate --scorer hybrid:builtin:finece-smollm2 --data a.jsonl b.jsonl

``--data`` is a label file of ``guardrail data build`` (its model is the build's generator, and
the logprobs are recomputed by a forward pass of that generator) or a graded JSONL of
``{"question", "answer", "correct", "logprobs"}`` rows (see :mod:`guardrail.lab.graded`;
rows without logprobs need ``--generator``, a local model reference). The map goes into the
calibration store, where ``logprob:`` scorers find it for that model, or to ``--out``.

For ``hybrid:REF`` the FineCE scorer ``REF`` also scores every answer (and its question), and a
logistic combiner of its estimates and the logprob signals is fitted
(:func:`guardrail.lab.hybrid_fit.fit_hybrid`); give it graded answers ``REF`` was not trained
on. Several ``--data`` files are pooled (they must name the same generator); ``--max-answers``
fits on a seeded sample.
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

    from guardrail.errors import GuardrailConfigError
    from guardrail.lab.graded import fit_logprob_calibration
    from guardrail.scorers.calibrations import write_calibration
    from guardrail.scorers.logprob import LogprobScorer, parse_logprob_ref

    if args.scorer.startswith("hybrid:"):
        return _run_hybrid(args)
    if args.max_answers is not None:
        raise GuardrailConfigError("--max-answers applies to hybrid: scorers only")
    signal = parse_logprob_ref(args.scorer)
    scorer = LogprobScorer(signal, window=args.window, calibrations={})
    graded, model, recompute = _graded(args)
    calibration = fit_logprob_calibration(
        scorer, model, graded, recompute=recompute, source=", ".join(args.data)
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


def _graded(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """The pooled graded answers of ``--data``, the model they are of, and a recomputer."""
    from guardrail.errors import GuardrailConfigError
    from guardrail.lab.graded import GradedFile, read_graded

    files = [read_graded(path) for path in args.data]
    builds = sorted({f.generator for f in files if f.generator})
    if len(builds) > 1:
        raise GuardrailConfigError(
            f"--data files name different generators ({', '.join(builds)}): calibrate one model"
        )
    graded = GradedFile(
        tuple(a for f in files for a in f.answers), builds[0] if builds else None, None
    )
    model = args.model or graded.generator
    if not model:
        raise GuardrailConfigError("name the model whose answers these are: --model NAME")
    if not graded.answers:
        raise GuardrailConfigError(f"{', '.join(args.data)}: no graded answers")
    local = args.generator or (
        graded.generator
        if graded.generator and not graded.generator.startswith("litellm:")
        else None
    )
    recompute = None
    if local is not None and any(answer.tokens is None for answer in graded.answers):
        from guardrail.generation import LocalGenerator

        generator = LocalGenerator.from_ref(local, device=args.device)
        print(f"[calibrate] recomputing logprobs with {local}", file=sys.stderr)

        def recompute(messages: Sequence[dict[str, str]], answer: str) -> list[Any]:
            return generator.token_logprobs(messages, answer, top_logprobs=args.top_logprobs)

    return graded, model, recompute


def _run_hybrid(args: argparse.Namespace) -> int:
    from pathlib import Path

    from guardrail.lab.hybrid_fit import fit_hybrid
    from guardrail.scorers import create_scorer
    from guardrail.scorers.hybrid import parse_hybrid_ref, write_hybrid

    inner = parse_hybrid_ref(args.scorer)
    graded, model, recompute = _graded(args)
    finece = create_scorer(inner, device=args.device)

    def progress(done: int, total: int) -> None:
        print(f"[calibrate] {done}/{total} answers scored", file=sys.stderr)

    collected: list[tuple[Any, dict[str, float]]] = []
    calibration = fit_hybrid(
        finece,
        args.scorer,
        model,
        graded,
        recompute=recompute,
        window=args.window,
        source=", ".join(args.data),
        max_answers=args.max_answers,
        seed=args.seed,
        progress=progress,
        collect=collected,
    )
    if args.features_out:
        with Path(args.features_out).open("w", encoding="utf-8") as out:
            for answer, values in collected:
                row = {"group": answer.group, "question": answer.question}
                out.write(json.dumps({**row, "correct": answer.correct, **values}) + "\n")
    path = write_hybrid(calibration, Path(args.out) if args.out else None)
    if args.json:
        print(json.dumps({"out": str(path), **calibration.to_dict()}, indent=2, sort_keys=True))
        return 0
    fit = calibration.fit
    print(f"{path}: {calibration.scorer} for {model!r}")
    print(f"  {fit['answers']} answers of {fit['questions']} questions ({fit['correct']} right)")
    combiner = calibration.combiner
    weights = ", ".join(
        f"{n} {c:+.3f}" for n, c in zip(combiner.features, combiner.coef, strict=True)
    )
    print(f"  weights (standardised logits): {weights}")
    print(
        f"  in-sample AUROC {_num(fit['auroc'])} (each input alone: "
        + ", ".join(f"{n} {_num(v)}" for n, v in fit["auroc_by_feature"].items())
        + f"); Brier {fit['brier']:.4f}"
    )
    return 0


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def register(sub: Any) -> None:
    """Add the ``calibrate`` sub-command."""
    parser = sub.add_parser(
        "calibrate",
        help="fit a logprob: scorer's map or a hybrid: combiner for one model",
        description="Fit the Platt map of a training-free logprob: scorer, or the combiner of "
        "a hybrid: scorer, for one model from graded answers.",
    )
    parser.add_argument(
        "--scorer",
        required=True,
        help="logprob:mean_logprob, logprob:min_window, logprob:mean_entropy or hybrid:REF",
    )
    parser.add_argument(
        "--data",
        required=True,
        nargs="+",
        help="label files of `guardrail data build` or graded JSONL (pooled)",
    )
    parser.add_argument("--model", help="the model whose answers these are (default: the build's)")
    parser.add_argument("--generator", help="local model reference to recompute logprobs with")
    parser.add_argument("--window", type=int, default=16, help="min_window: tokens per window")
    parser.add_argument("--top-logprobs", type=int, default=5, help="alternatives recomputed")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--max-answers", type=int, help="hybrid: fit on a seeded sample of this many answers"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the --max-answers sample")
    parser.add_argument(
        "--features-out",
        help="hybrid: also write each fitted answer's inputs (JSONL: group, question, correct, "
        "features), e.g. to refit leaving one family out",
    )
    parser.add_argument("--out", help="write the map here instead of the calibration store")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)
