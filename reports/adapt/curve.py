"""Learning curves of ``guardrail adapt`` (issue 23, item 4): adapted guard vs best free signal.

    python reports/adapt/curve.py [FAMILY...] [--sizes 20 40 80 all] [--repeats 5]

For each family, the adapt comparison (:func:`guardrail.lab.adapt.compare`: every candidate
fitted on the fit questions, chosen on dev by the card's rule) runs on 20, 40, 80 and all of the
generator's labelled questions, and the chosen guard is measured on held-out questions that no
label file holds, beside the best single free signal of the *same* held-out answers (picked on
those answers, after the fact):

* fit and dev rows: each labelled question's sampled answers graded right or wrong (the Monte
  Carlo outcome labels of ``datasets/finece-multidomain``, ``datasets/finece-smollm2`` and
  ``datasets/finece-gemma3``), with the shipped scorer's estimates and the generator's logprob
  signals already computed by ``guardrail calibrate --features-out``
  (``reports/hybrid/features*.jsonl``: a seeded sample of those labels);
* held-out rows: the greedy answers of ``guardrail eval`` on the family's test questions
  (``reports/multidomain/shipped-FAMILY.json``, Gemma: ``reports/cross-generator/
  finece-smollm2-facts.json``), whose per-answer FineCE estimates and logprob signals are in the
  report (FineCE's stage maps undone to the pooled map the fit rows carry).

Sizes below "all" draw nested seeded samples of questions; ``--repeats`` redraws them with
other seeds and reports the mean and range of the held-out AUROC (the table's interval is the
bootstrap interval of seed 0). Nothing runs a model; every number comes from the files named.
Writes ``reports/adapt/curve-FAMILY.json`` and ``reports/adapt/curve.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guardrail.calibration import StageCalibration
from guardrail.lab.adapt import Row, compare, split_questions
from guardrail.scorers.finece import artifact_calibration, artifact_stage_calibration

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "reports" / "adapt"
SHIPPED = "builtin:finece-smollm2"
FAMILIES: dict[str, tuple[str, str, str]] = {
    # name: (features file, its group, held-out eval report)
    "synthetic": (
        "reports/hybrid/features.jsonl",
        "synthetic",
        "reports/multidomain/shipped-synthetic.json",
    ),
    "facts": ("reports/hybrid/features.jsonl", "facts", "reports/multidomain/shipped-facts.json"),
    "fact-choice": (
        "reports/hybrid/features.jsonl",
        "fact-choice",
        "reports/multidomain/shipped-fact-choice.json",
    ),
    "table-lookup": (
        "reports/hybrid/features.jsonl",
        "table-lookup",
        "reports/multidomain/shipped-table-lookup.json",
    ),
    "unit-conversion": (
        "reports/hybrid/features.jsonl",
        "unit-conversion",
        "reports/multidomain/shipped-unit-conversion.json",
    ),
    "gemma3-facts": (
        "reports/hybrid/features-gemma3-facts.jsonl",
        "facts",
        "reports/cross-generator/finece-smollm2-facts.json",
    ),
}
SIGNALS = ("mean_logprob", "min_window", "mean_entropy")


def fit_rows(path: str, group: str) -> list[Row]:
    """The family's graded sampled answers with their features, as outcome rows."""
    rows = []
    for line in (ROOT / path).read_text().splitlines():
        data = json.loads(line)
        if data["group"] != group:
            continue
        features = {k: float(data[k]) for k in ("finece_question", "finece_outcome", *SIGNALS)}
        rows.append(Row(data["question"], "outcome", float(data["correct"]), features, group))
    return rows


def _pooled(value: float, stage: str, stages: StageCalibration) -> float:
    """A stage-mapped FineCE estimate of the report as the pooled map gives it."""
    own = stages.by_stage.get(stage)
    if own is None or stages.pooled is None or not own.invertible:
        return value
    return float(stages.pooled.apply([own.invert(value)])[0])


def heldout_rows(path: str, stages: StageCalibration) -> list[Row]:
    """The report's greedy answers as outcome rows (FineCE estimates in the pooled map's terms)."""
    report = json.loads((ROOT / path).read_text())
    rows = []
    for answer in report["answers"]:
        base = answer["baselines"]
        if any(base.get(name) is None for name in SIGNALS):
            continue
        features = {
            "finece_question": _pooled(answer["finece"]["question"], "question", stages),
            "finece_outcome": _pooled(answer["finece"]["outcome"], "outcome", stages),
            **{name: float(base[name]) for name in SIGNALS},
        }
        if base.get("first_token") is not None:
            features["first_token"] = float(base["first_token"])
        if base.get("self_consistency") is not None:
            features["agreement"] = float(base["self_consistency"])
        rows.append(Row(answer["question"], "outcome", float(answer["correct"]), features))
    return rows


def _slim(figures: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "answers",
        "right",
        "auroc",
        "auroc_ci",
        "brier",
        "ece",
        "confidence_gap",
        "ece_noise_floor",
        "ece_noise_q95",
        "ece_within_noise",
        "mean_confidence",
        "accuracy",
    )
    return {k: figures[k] for k in keys if k in figures}


def one_size(
    rows: list[Row], test: list[Row], questions: Sequence[str], seed: int
) -> dict[str, Any]:
    """Adapt on ``questions`` (split into fit and dev), measured on ``test``."""
    kept = set(questions)
    mine = [r for r in rows if r.question in kept]
    split = split_questions(kept, seed, with_test=False)
    fit = [r for r in mine if r.question in split.fit]
    dev = [r for r in mine if r.question in split.dev]
    # intervals and noise floors for the first draw only; the redraws give the AUROC's spread
    result = compare(fit, dev, test, seed=seed, n_bootstrap=1000 if seed == 0 else 0)
    chosen = result.test[result.choice]
    return {
        "questions": len(kept),
        "fit_answers": len(fit),
        "dev_answers": len(dev),
        "split": split.to_dict(),
        "choice": result.choice,
        "why": result.why,
        "chosen": _slim(chosen),
        "candidates": {
            name: {"dev": _slim(result.dev[name]), "test": _slim(f)}
            for name, f in result.test.items()
        },
        "not_fitted": result.skipped,
        "threshold_0_9": result.threshold,
        "best_free": _slim(result.best_free) | {"signal": result.best_free.get("signal")},
    }


def family_curve(name: str, sizes: Sequence[str], repeats: int) -> dict[str, Any]:
    """Every size of one family's curve (module documentation)."""
    features, group, report = FAMILIES[name]
    stages = StageCalibration(artifact_calibration(SHIPPED), artifact_stage_calibration(SHIPPED))
    rows = fit_rows(features, group)
    test = heldout_rows(report, stages)
    questions = sorted({r.question for r in rows})
    table = []
    for size in sizes:
        n = len(questions) if size == "all" else min(int(size), len(questions))
        runs = []
        for seed in range(repeats if n < len(questions) else 1):
            order = list(questions)
            random.Random(seed).shuffle(order)
            runs.append(one_size(rows, test, order[:n], seed))
        entry = runs[0]
        aurocs = [r["chosen"]["auroc"] for r in runs]
        entry["repeats"] = {
            "n": len(runs),
            "auroc_mean": sum(aurocs) / len(aurocs),
            "auroc_min": min(aurocs),
            "auroc_max": max(aurocs),
            "choices": [r["choice"] for r in runs],
            "margin_mean": sum(r["chosen"]["auroc"] - r["best_free"]["auroc"] for r in runs)
            / len(runs),
        }
        table.append(entry)
        if n == len(questions):
            break
    return {
        "family": name,
        "features": features,
        "heldout_report": report,
        "labelled_questions": len(questions),
        "heldout_answers": len(test),
        "heldout_right": sum(r.correct for r in test),
        "sizes": table,
    }


def _ci(f: dict[str, Any]) -> str:
    value = f.get("auroc")
    if value is None or not math.isfinite(value):
        return "n/a"
    lo, hi = f.get("auroc_ci", [math.nan, math.nan])
    return f"{value:.3f} [{lo:.2f}, {hi:.2f}]"


def _free_brier(entry: dict[str, Any]) -> tuple[float, str]:
    """The best free signal's Brier score: its calibrated candidate's, else the raw signal's."""
    free = entry["best_free"]
    calibrated = entry["candidates"].get(f"logprob:{free.get('signal')}", {}).get("test", {})
    if "brier" in calibrated:
        return calibrated["brier"], ""
    return free.get("brier", math.nan), " (raw)"


def _row(curve: dict[str, Any], entry: dict[str, Any]) -> str:
    chosen, free = entry["chosen"], entry["best_free"]
    brier_free, raw = _free_brier(entry)
    floor = chosen.get("ece_noise_floor")
    ece = f"{chosen['ece']:.3f}" + (f" ({floor:.3f})" if floor is not None else "")
    rep = entry["repeats"]
    margin = chosen["auroc"] - free["auroc"]
    return (
        f"| {curve['family']} | {entry['questions']} ({entry['fit_answers']}) | "
        f"{entry['choice']} | {_ci(chosen)} | {_ci(free)} {free.get('signal')} | {margin:+.3f} "
        f"({rep['margin_mean']:+.3f}, n={rep['n']}) | {chosen['brier']:.3f} / "
        f"{brier_free:.3f}{raw} | {chosen['confidence_gap']:+.3f} | {ece} |"
    )


def _aims(curve: dict[str, Any]) -> str:
    """The issue's aims on the family's largest size: reached (yes) or not (no)."""
    entry = curve["sizes"][-1]
    chosen, free = entry["chosen"], entry["best_free"]
    margin = chosen["auroc"] - free["auroc"]
    brier_free, _ = _free_brier(entry)
    within = chosen.get("ece_within_noise")

    def mark(ok: bool | None) -> str:
        return "n/a" if ok is None else ("yes" if ok else "no")

    return (
        f"| {curve['family']} | {entry['questions']} | {mark(margin >= 0)} ({margin:+.3f}) | "
        f"{mark(margin >= 0.05)} | {mark(chosen['brier'] <= brier_free)} | "
        f"{mark(abs(chosen['confidence_gap']) <= 0.03)} ({chosen['confidence_gap']:+.3f}) | "
        f"{mark(within)} |"
    )


def markdown(curves: list[dict[str, Any]]) -> str:
    """The table of every family and size, then the aims on the largest size."""
    lines = [
        "| family | questions adapted on (fit answers) | chosen on dev | held-out AUROC, "
        "adapted [95% CI] | best free signal, same answers | margin (mean over redraws) | "
        "Brier adapted / best free calibrated | mean conf. - accuracy | ECE (noise floor) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(curve, entry) for curve in curves for entry in curve["sizes"]]
    lines += [
        "",
        "Held-out answers per family: "
        + "; ".join(
            f"{c['family']} {c['heldout_answers']} ({c['heldout_right']} right)" for c in curves
        )
        + ".",
        "",
        "Aims of issue 23 on all labelled questions of each family (reached: yes / no):",
        "",
        "| family | questions | AUROC >= best free signal | >= +0.05 | Brier <= free's | "
        "mean conf. within 0.03 of accuracy | ECE within its noise |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_aims(curve) for curve in curves]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (module documentation)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--sizes", nargs="+", default=["20", "40", "80", "all"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--table-only", action="store_true", help="only rewrite curve.md")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in [] if args.table_only else args.families:
        curve = family_curve(name, args.sizes, args.repeats)
        (OUT / f"curve-{name}.json").write_text(json.dumps(curve, indent=2) + "\n")
    curves = [
        json.loads((OUT / f"curve-{name}.json").read_text())
        for name in FAMILIES
        if (OUT / f"curve-{name}.json").is_file()
    ]
    text = markdown(curves)
    (OUT / "curve.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
