"""The cross-generator table per scorer: Gemma's facts and unit-conversion answers, and pooled.

    python reports/cross-generator/curve.py   # writes reports/cross-generator/curve.{json,md}

Every scorer of ``run.sh eval`` judged the same 30 held-out Gemma answers per family; this
reads their reports and writes one row per scorer: outcome AUROC per family and pooled over the
60 answers (bootstrap intervals), pooled ECE, within-question AUROC per family. The rows named
``finece-gemma3-N`` are the learning curve (scorers trained on N of Gemma's labelled questions,
240 steps each). Every number is read from the reports or computed from their answers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from guardrail.lab.evaluation.families import family_rows, pooled_outcome
from guardrail.lab.evaluation.families import format_figure as fmt

HERE = Path(__file__).resolve().parent
FAMILIES = ("facts", "unit-conversion")
SCORERS = (
    ("finece-smollm2", "shipped, SmolLM2's synthetic arithmetic labels"),
    ("finece-smollm2-v3", "multi-domain candidate, SmolLM2's labels of 5 families"),
    ("hybrid-finece-smollm2", "hybrid: shipped + Gemma's logprobs, combiner on 116 Gemma facts q"),
    ("finece-gemma3-50", "Gemma's labels, 50 questions"),
    ("finece-gemma3-100", "Gemma's labels, 100 questions"),
    ("finece-gemma3-all", "Gemma's labels, all 180 questions"),
)


def main() -> int:
    """Write curve.json and curve.md from the reports there are."""
    rows, missing = [], []
    baseline_reports: dict[str, Any] = {}
    for name, label in SCORERS:
        paths = {family: HERE / f"{name}-{family}.json" for family in FAMILIES}
        if not all(path.is_file() for path in paths.values()):
            missing.append(name)
            continue
        reports = {f: json.loads(p.read_text(encoding="utf-8")) for f, p in paths.items()}
        per_family = {row["family"]: row for row in family_rows(reports)}
        rows.append(
            {"scorer": name, "trained on": label, "families": per_family, **pooled_outcome(reports)}
        )
        baseline_reports = baseline_reports or reports  # the same answers in every report
    baselines = {
        f: (r["best_logprob"], r["best_logprob_auroc"]) for f, r in rows[0]["families"].items()
    }
    pooled_baselines = _pooled_baselines(baseline_reports)
    (HERE / "curve.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    lines = [
        "| scorer | trained on | facts AUROC | unit-conversion AUROC | pooled AUROC (60) "
        "| pooled ECE | within-question facts / unit-conversion |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        facts, units = (row["families"][f] for f in FAMILIES)
        lines.append(
            f"| `{row['scorer']}` | {row['trained on']} "
            f"| {fmt(facts['finece_auroc'], facts['finece_auroc_ci'])} "
            f"| {fmt(units['finece_auroc'], units['finece_auroc_ci'])} "
            f"| {fmt(row['auroc'], row['ci'].get('auroc'))} | {fmt(row['ece_15'])} "
            f"| {fmt(facts['within_auroc'])} / {fmt(units['within_auroc'])} |"
        )
    lines.append("")
    lines.append(
        "Best logprob signal of the same answers: "
        + "; ".join(f"{family} {name} {fmt(value)}" for family, (name, value) in baselines.items())
        + "."
    )
    lines.append(
        "The same baselines pooled over the 60 answers: "
        + "; ".join(f"{name} {fmt(value, ci)}" for name, (value, ci) in pooled_baselines.items())
        + "."
    )
    if missing:
        lines.append(f"Not evaluated yet: {', '.join(missing)}.")
    (HERE / "curve.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _pooled_baselines(
    reports: dict[str, Any],
) -> dict[str, tuple[float, list[float] | None]]:
    """Each baseline's outcome AUROC over both families' answers (bootstrap interval)."""
    from guardrail.lab.evaluation.metrics import metric_table

    answers = [answer for report in reports.values() for answer in report["answers"]]
    labels = [bool(a["correct"]) for a in answers]
    out = {}
    for name in ("mean_logprob", "min_window", "mean_entropy", "self_consistency"):
        values = [float(a["baselines"][name]) for a in answers]
        table = metric_table(values, labels, n_bootstrap=500, seed=0, ci_metrics=("auroc",))
        out[name] = (table["auroc"], table["ci"].get("auroc"))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
