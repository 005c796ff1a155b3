"""One table over several evaluation reports (one per task family), plus pooled figures.

``python -m guardrail.lab.evaluation.families REPORT.json... --json OUT.json --markdown OUT.md``
reads ``guardrail eval`` reports (each on one task family), and writes per family: answers,
accuracy, FineCE's outcome AUROC and ECE, its AUROC before the answer (question) and after the
first paragraph (p1), the within-question AUROC, the hybrid's AUROC and the best logprob
baseline of the same run, with the bootstrap intervals the reports hold; and the pooled outcome
metrics over all answers of all reports (bootstrap intervals computed here). Every number is
read from the reports or computed from their answers; nothing else goes in.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["family_rows", "format_figure", "main", "pooled_outcome"]

LOGPROB_BASELINES = ("mean_logprob", "min_window", "mean_entropy")


def _ci(table: Mapping[str, Any], key: str) -> list[float] | None:
    ci = table.get("ci", {}).get(key)
    return list(ci) if ci else None


def _defined(value: Any) -> bool:
    """A finite number (a written report has ``null`` where a metric was undefined)."""
    return isinstance(value, int | float) and math.isfinite(value)


def family_rows(reports: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per report (keyed by its name): the figures issue 11 asks for."""
    rows = []
    for name, report in reports.items():
        methods = report["methods"]
        finece = methods["finece"]["raw"]
        baselines = [
            (b, methods[b]["raw"]["auroc"])
            for b in LOGPROB_BASELINES
            if methods[b]["status"] == "ok" and _defined(methods[b]["raw"]["auroc"])
        ]
        best = max(baselines, key=lambda item: item[1]) if baselines else (None, math.nan)
        hybrid = methods.get("hybrid", {})
        within = report["within_question"]
        positions = report["positions"]
        rows.append(
            {
                "family": name,
                "task": report["meta"]["task"],
                "scorer": report["meta"]["scorer"],
                "answers": report["meta"]["answers"],
                "accuracy": report["meta"]["base_accuracy"],
                "finece_auroc": finece["auroc"],
                "finece_auroc_ci": _ci(finece, "auroc"),
                "finece_ece": finece["ece_15"],
                "question_auroc": positions["question"]["auroc"],
                "p1_auroc": positions["p1"]["auroc"],
                "within_auroc": within.get("macro_auroc"),
                "within_auroc_ci": (within.get("ci") or {}).get("macro_auroc"),
                "within_pairs": within.get("pairs"),
                "hybrid_auroc": hybrid["raw"]["auroc"] if hybrid.get("status") == "ok" else None,
                "hybrid_auroc_ci": _ci(hybrid["raw"], "auroc")
                if hybrid.get("status") == "ok"
                else None,
                "best_logprob": best[0],
                "best_logprob_auroc": best[1],
                "margin_over_best_logprob": (
                    finece["auroc"] - best[1] if _defined(finece["auroc"]) else math.nan
                ),
            }
        )
    return rows


def pooled_outcome(
    reports: Mapping[str, Mapping[str, Any]], n_bootstrap: int = 500
) -> dict[str, Any]:
    """FineCE's outcome metrics over every answer of every report (families pooled)."""
    from guardrail.lab.evaluation.metrics import metric_table

    conf, labels = [], []
    for report in reports.values():
        for answer in report["answers"]:
            conf.append(float(answer["finece"]["outcome"]))
            labels.append(bool(answer["correct"]))
    table = metric_table(
        conf, labels, n_bootstrap=n_bootstrap, seed=0, ci_metrics=("auroc", "ece_15")
    )
    return {"answers": len(conf), **{k: table[k] for k in ("auroc", "ece_15", "brier", "ci")}}


def format_figure(value: Any, ci: Sequence[float] | None = None) -> str:
    """``0.123 [0.10, 0.15]``: a figure to three places and its interval; ``n/a`` if undefined."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if ci and all(isinstance(v, float) and math.isfinite(v) for v in ci):
        text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return text


def markdown(rows: Sequence[Mapping[str, Any]], pooled: Mapping[str, Any]) -> str:
    """The table as markdown."""
    header = (
        "| family | answers | accuracy | FineCE outcome AUROC | ECE | question AUROC | p(1) AUROC "
        "| within-question AUROC (pairs) | hybrid AUROC | best logprob baseline | margin |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['family']} | {r['answers']} | {format_figure(r['accuracy'])} "
            f"| {format_figure(r['finece_auroc'], r['finece_auroc_ci'])} "
            f"| {format_figure(r['finece_ece'])} "
            f"| {format_figure(r['question_auroc'])} | {format_figure(r['p1_auroc'])} "
            f"| {format_figure(r['within_auroc'], r['within_auroc_ci'])} ({r['within_pairs']}) "
            f"| {format_figure(r['hybrid_auroc'], r['hybrid_auroc_ci'])} "
            f"| {r['best_logprob']} {format_figure(r['best_logprob_auroc'])} "
            f"| {r['margin_over_best_logprob']:+.3f} |"
        )
    ci = pooled.get("ci", {})
    lines += [
        "",
        f"Pooled over the {pooled['answers']} answers: outcome AUROC "
        f"{format_figure(pooled['auroc'], ci.get('auroc'))}, "
        f"ECE {format_figure(pooled['ece_15'], ci.get('ece_15'))}, "
        f"Brier {format_figure(pooled['brier'])}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: reports in, a JSON and a markdown table out."""
    parser = argparse.ArgumentParser(prog="python -m guardrail.lab.evaluation.families")
    parser.add_argument("reports", nargs="+", type=Path, help="guardrail eval JSON reports")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--markdown", type=Path, required=True)
    parser.add_argument("--bootstrap", type=int, default=500)
    args = parser.parse_args(argv)
    reports = {}
    for path in args.reports:
        report = json.loads(path.read_text(encoding="utf-8"))
        reports[path.stem] = report
    rows = family_rows(reports)
    pooled = pooled_outcome(reports, args.bootstrap)
    args.json.write_text(json.dumps({"families": rows, "pooled": pooled}, indent=2) + "\n")
    args.markdown.write_text(markdown(rows, pooled))
    print(markdown(rows, pooled))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
