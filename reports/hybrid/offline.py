"""The hybrid combiner on held-out answers, refitted offline: leaving a family out, learning curve.

    python reports/hybrid/offline.py lofo FEATURES COMBINER REPORT... [--json OUT] [--markdown OUT]
    python reports/hybrid/offline.py curve FEATURES REPORT --sizes 25 50 100 all [--json/--markdown]

``lofo``: ``FEATURES`` is the ``--features-out`` file of ``guardrail calibrate --scorer
hybrid:...`` (each fitted answer's inputs and its family), ``COMBINER`` the combiner fitted on
all of them, each ``REPORT`` a ``guardrail eval`` report of the *FineCE* scorer inside the
hybrid on one family's held-out questions (its per-answer FineCE estimates and logprob signals
are the combiner's inputs, so nothing is run again). Per family: the outcome AUROC, with a
bootstrap interval, of FineCE alone, of the best single-pass logprob signal of the same answers,
of the combiner fitted on every family (``in``) and of one refitted without that family's
answers (``left out``: the family is a kind of question it never saw), and the hybrid's ECE.
Every number is computed from the files named; nothing is typed in.

``curve``: how many graded questions of a generator the combiner needs. For each size ``N`` a
seeded sample of ``N`` questions of ``FEATURES`` (nested: every sample holds the smaller ones)
fits a combiner, scored on the held-out answers of ``REPORT`` (outcome AUROC with a bootstrap
interval, ECE), beside FineCE alone and the best logprob signal of the same answers.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guardrail.combiner import HYBRID_FEATURES, LogisticCombiner, fit_combiner
from guardrail.lab.evaluation.metrics import auroc, bootstrap, ece
from guardrail.scorers.hybrid import read_hybrid

SIGNALS = ("mean_logprob", "min_window", "mean_entropy")


def _inputs(answer: dict[str, Any]) -> dict[str, float] | None:
    values = {
        "finece_question": answer["finece"]["question"],
        "finece_outcome": answer["finece"]["outcome"],
    }
    for name in SIGNALS:
        value = answer["baselines"].get(name)
        if value is None:
            return None
        values[name] = float(value)
    return values


def _auroc_ci(conf: Sequence[float], correct: Sequence[bool]) -> dict[str, Any]:
    value = auroc(conf, correct)
    lo, hi = bootstrap(auroc, conf, correct, n=1000, seed=0)
    return {"auroc": value, "ci": [lo, hi]}


def family_row(
    family: str,
    report: dict[str, Any],
    rows: list[dict[str, Any]],
    combiner: LogisticCombiner,
) -> dict[str, Any]:
    """One family's figures (module documentation)."""
    answers = [a for a in report["answers"] if _inputs(a) is not None]
    inputs = [_inputs(a) or {} for a in answers]
    correct = [bool(a["correct"]) for a in answers]
    others = [r for r in rows if r["group"] != family]
    left_out = fit_combiner(others, [bool(r["correct"]) for r in others], HYBRID_FEATURES)
    hybrid_in = [combiner.predict(x) for x in inputs]
    hybrid_out = [left_out.predict(x) for x in inputs]
    signals = {name: _auroc_ci([x[name] for x in inputs], correct) for name in SIGNALS}
    best = max(signals, key=lambda name: signals[name]["auroc"])
    return {
        "family": family,
        "answers": len(answers),
        "correct": sum(correct),
        "fitted_on_family": sum(r["group"] == family for r in rows),
        "fitted_left_out": len(others),
        "finece": _auroc_ci([x["finece_outcome"] for x in inputs], correct),
        "best_logprob": {"signal": best, **signals[best]},
        "hybrid_in": {**_auroc_ci(hybrid_in, correct), "ece": ece(hybrid_in, correct)},
        "hybrid_left_out": {**_auroc_ci(hybrid_out, correct), "ece": ece(hybrid_out, correct)},
    }


def _fmt(entry: dict[str, Any]) -> str:
    value, (lo, hi) = entry["auroc"], entry["ci"]
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3f} [{lo:.2f}, {hi:.2f}]"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table as Markdown."""
    lines = [
        "| family | answers (right) | FineCE | best logprob signal | hybrid, fitted with it | "
        "hybrid, family left out | hybrid ECE (in / left out) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        best = row["best_logprob"]
        lines.append(
            f"| {row['family']} | {row['answers']} ({row['correct']}) | {_fmt(row['finece'])} | "
            f"{_fmt(best)} {best['signal']} | {_fmt(row['hybrid_in'])} | "
            f"{_fmt(row['hybrid_left_out'])} | {row['hybrid_in']['ece']:.3f} / "
            f"{row['hybrid_left_out']['ece']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def curve_rows(
    report: dict[str, Any], rows: list[dict[str, Any]], sizes: Sequence[str], seed: int = 0
) -> list[dict[str, Any]]:
    """One row per size: the combiner fitted on that many questions, on the report's answers."""
    answers = [a for a in report["answers"] if _inputs(a) is not None]
    inputs = [_inputs(a) or {} for a in answers]
    correct = [bool(a["correct"]) for a in answers]
    questions = sorted({r["question"] for r in rows})
    random.Random(seed).shuffle(questions)
    signals = {name: _auroc_ci([x[name] for x in inputs], correct) for name in SIGNALS}
    best = max(signals, key=lambda name: signals[name]["auroc"])
    table = []
    for size in sizes:
        n = len(questions) if size == "all" else min(int(size), len(questions))
        kept = set(questions[:n])
        fitted = [r for r in rows if r["question"] in kept]
        labels = [bool(r["correct"]) for r in fitted]
        entry: dict[str, Any] = {"questions": n, "answers": len(fitted), "right": sum(labels)}
        if len(set(labels)) == 2:
            combiner = fit_combiner(fitted, labels, HYBRID_FEATURES)
            values = [combiner.predict(x) for x in inputs]
            entry["hybrid"] = {**_auroc_ci(values, correct), "ece": ece(values, correct)}
        table.append(entry)
    head = {
        "heldout_answers": len(answers),
        "heldout_right": sum(correct),
        "finece": _auroc_ci([x["finece_outcome"] for x in inputs], correct),
        "best_logprob": {"signal": best, **signals[best]},
    }
    return [head, *table]


def curve_markdown(table: list[dict[str, Any]]) -> str:
    """The learning curve as Markdown."""
    head, rows = table[0], table[1:]
    best = head["best_logprob"]
    lines = [
        f"Held out: {head['heldout_answers']} answers ({head['heldout_right']} right). "
        f"FineCE alone {_fmt(head['finece'])}; best logprob signal ({best['signal']}) "
        f"{_fmt(best)}.",
        "",
        "| questions fitted on | answers (right) | hybrid outcome AUROC | hybrid ECE |",
        "|---|---|---|---|",
    ]
    for row in rows:
        hybrid = row.get("hybrid")
        shown = (_fmt(hybrid), f"{hybrid['ece']:.3f}") if hybrid else ("n/a (one class)", "-")
        lines.append(
            f"| {row['questions']} | {row['answers']} ({row['right']}) | {shown[0]} | {shown[1]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (module documentation)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lofo = sub.add_parser("lofo")
    lofo.add_argument("features")
    lofo.add_argument("combiner")
    lofo.add_argument("reports", nargs="+")
    curve = sub.add_parser("curve")
    curve.add_argument("features")
    curve.add_argument("report")
    curve.add_argument("--sizes", nargs="+", default=["25", "50", "100", "all"])
    curve.add_argument("--seed", type=int, default=0)
    for command in (lofo, curve):
        command.add_argument("--json")
        command.add_argument("--markdown")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.features).read_text().splitlines() if line]
    if args.command == "curve":
        table = curve_rows(json.loads(Path(args.report).read_text()), rows, args.sizes, args.seed)
        text = curve_markdown(table)
    else:
        combiner = read_hybrid(Path(args.combiner)).combiner
        table = []
        for path in args.reports:
            report = json.loads(Path(path).read_text())
            table.append(family_row(report["meta"]["task"], report, rows, combiner))
        text = markdown(table)
    print(text, end="")
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
