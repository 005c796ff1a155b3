"""Write an evaluation report: JSON, a markdown table and two PNG figures.

* JSON: the report dict with NaN and infinities written as ``null`` (strict JSON); the
  ``undefined`` entries next to them say why;
* markdown: the summary, every method raw and calibrated, FineCE by position, the checkpoint
  strategies, the BCI ablation and the downstream tables;
* figures (matplotlib, drawn on ``Figure`` objects with the Agg canvas; pyplot and its global
  backend are never touched): a reliability diagram of FineCE's outcome estimate and the best
  baseline, and FineCE's confidence over the relative position in the answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from guardrail.lab.evaluation.analysis import METHOD_NAMES, SUMMARY_KEYS
from guardrail.lab.evaluation.metrics import reliability_bins

__all__ = [
    "jsonable",
    "markdown_report",
    "plot_positions",
    "plot_reliability",
    "write_report",
]


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as ``None``, tuples as lists and numpy scalars as floats."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


# ---------------------------------------------------------------------- markdown
def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _with_ci(table: Mapping[str, Any], key: str) -> str:
    text = _fmt(table.get(key))
    ci = table.get("ci", {}).get(key)
    if ci and all(isinstance(v, float) and math.isfinite(v) for v in ci):
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def _signed(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:+.3f}"
    return _fmt(value)


def _noise(table: Mapping[str, Any]) -> str:
    """``floor [q95]`` of a metric table's ECE noise floor (see ``metrics.NOISE_NAMES``)."""
    if "ece_noise_floor" not in table:
        return "n/a"
    return f"{_fmt(table['ece_noise_floor'])} [{_fmt(table['ece_noise_q95'])}]"


def _ece_vs_floor(table: Mapping[str, Any]) -> str:
    """``ECE / floor``, with ``*`` when the ECE lies beyond the floor's 95th percentile."""
    if "ece_15" not in table:
        return "n/a"
    mark = "*" if table.get("ece_within_noise") is False else ""
    return f"{_fmt(table['ece_15'])}{mark} / {_fmt(table.get('ece_noise_floor'))}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _methods_md(methods: Mapping[str, Any]) -> list[str]:
    header = ["method", "n", "ECE-15", "ECE floor [q95]", "in noise", "conf - acc", "ECE-10"]
    header += ["MCE", "Brier", "NLL", "AUROC", "AUPRC-err", "PRR", "acc@50%", "acc@80%"]
    header += ["missing", "flags"]
    rows, calibrated = [], []
    for name in METHOD_NAMES:
        method = methods[name]
        if method["status"] != "ok":
            rows.append([name, *["-"] * (len(header) - 2), f"skipped: {method['reason']}"])
            continue
        raw = method["raw"]
        rows.append(
            [
                name,
                str(raw["n"]),
                _with_ci(raw, "ece_15"),
                _noise(raw),
                _fmt(raw.get("ece_within_noise")),
                _signed(raw.get("confidence_gap")),
                _fmt(raw["ece_10"]),
                _fmt(raw["mce_15"]),
                _with_ci(raw, "brier"),
                _fmt(raw["nll"]),
                _with_ci(raw, "auroc"),
                _with_ci(raw, "auprc_errors"),
                _fmt(raw["prr"]),
                _fmt(raw["accuracy_at_50"]),
                _fmt(raw["accuracy_at_80"]),
                str(method["missing"]),
                ", ".join(method["flags"]) or "-",
            ]
        )
        test = method["test"]
        row = [name, str(test["raw"]["n"])]
        row += [_ece_vs_floor(test[variant]) for variant in ("raw", "platt", "isotonic")]
        row += [_fmt(test[variant].get("auroc")) for variant in ("raw", "platt", "isotonic")]
        calibrated.append(row)
    lines = ["## Methods (all answers, raw scores; 95% bootstrap intervals)", ""]
    lines += [
        "ECE floor: the mean ECE-15 of a perfectly calibrated scorer with the same confidences "
        "(simulated), its 95th percentile in brackets; in noise: the ECE is at most that "
        "percentile; conf - acc: mean confidence minus accuracy (> 0: over-confident).",
        "",
    ]
    lines += _table(header, rows)
    lines += ["## Test split, raw and after a calibration map fitted on the dev split", ""]
    lines += ["ECE / its noise floor; `*`: beyond the floor's 95th percentile.", ""]
    cal_header = ["method", "n", "ECE raw", "ECE Platt", "ECE isotonic"]
    cal_header += ["AUROC raw", "AUROC Platt", "AUROC isotonic"]
    return lines + _table(cal_header, calibrated)


def _positions_md(positions: Mapping[str, Any]) -> list[str]:
    keys = ("question", "p1", "pz1", "process", "outcome", "0-25", "25-50", "50-75", "75-100")
    rows = [
        [
            key,
            str(positions[key]["n"]),
            _with_ci(positions[key], "ece_15"),
            _noise(positions[key]),
            _with_ci(positions[key], "auroc"),
            _fmt(positions[key]["brier"]),
        ]
        for key in keys
    ]
    lines = ["## FineCE by position", ""]
    lines += _table(["position", "n", "ECE-15", "ECE floor [q95]", "AUROC", "Brier"], rows)
    share = _fmt(positions["p1_token_share"])
    return [*lines, f"Share of tokens seen at p(1): {share}.", ""]


def _strategies_md(strategies: Mapping[str, Any]) -> list[str]:
    rows = [
        [
            name,
            _fmt(s["first_estimate"]["ece_15"]),
            _fmt(s["first_estimate"]["auroc"]),
            _fmt(s["all_estimates"]["ece_15"]),
            _fmt(s["tokens_before_first_share"]),
            _fmt(s["estimates_per_answer"], 2),
            str(s["answers_without_estimate"]),
        ]
        for name, s in strategies.items()
    ]
    header = ["strategy", "first ECE", "first AUROC", "all ECE", "tokens before first"]
    header += ["estimates/answer", "answers w/o estimate"]
    return ["## Checkpoint strategies", "", *_table(header, rows)]


def _bci_md(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    body = []
    for row in rows:
        if row["status"] != "ok":
            body.append([str(row["width"]), "-", "-", f"skipped: {row['reason']}", "", "", ""])
            continue
        p = row["positions"]
        body.append(
            [
                str(row["width"]),
                _fmt(row["alpha"], 1),
                str(row["depth"]),
                _fmt(p["p1"]["ece_15"]),
                _fmt(p["p1"]["auroc"]),
                _fmt(p["pz1"]["ece_15"]),
                _fmt(p["process"]["ece_15"]),
            ]
        )
    header = ["width", "alpha", "depth", "p1 ECE", "p1 AUROC", "pz1 ECE", "process ECE"]
    return ["## BCI ablation", "", *_table(header, body)]


def _downstream_md(downstream: Mapping[str, Any]) -> list[str]:
    acc = [
        [
            _fmt(r["threshold"], 1),
            str(r["accepted"]),
            _fmt(r["coverage"]),
            _fmt(r["accepted_accuracy"]),
            _fmt(r["base_accuracy"]),
        ]
        for r in downstream["acceptance"]
    ]
    abort = [
        [
            _fmt(r["threshold"], 1),
            str(r["wrong_stopped"]),
            _fmt(r["wrong_tokens_saved_share"]),
            str(r["correct_lost"]),
            _fmt(r["correct_lost_share"]),
        ]
        for r in downstream["early_abort"]
    ]
    lines = ["## Accepting answers at confidence >= threshold", ""]
    lines += _table(["threshold", "accepted", "coverage", "accuracy", "all answers"], acc)
    lines += ["## Early abort below threshold (question and paragraph ends)", ""]
    header = ["threshold", "wrong stopped", "wrong tokens saved", "correct lost"]
    return lines + _table([*header, "correct lost share"], abort)


def _within_md(within: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Right vs wrong answers to the same question (within-question AUROC)", ""]
    if not within or "skipped" in within:
        reason = "not run" if not within else within["skipped"]
        return [*lines, f"Skipped: {reason}.", ""]
    ci = within.get("ci", {}).get("macro_auroc")
    interval = f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""
    rows = [
        [
            "questions with right and wrong answers",
            f"{within['questions_mixed']} of {within['questions']}",
        ],
        ["answers per question", _fmt(within["answers_per_question"], 1)],
        ["pairs ranked right", f"{_fmt(within['pairs_ranked_right'], 1)} of {within['pairs']}"],
        ["macro AUROC (mean over questions, 95% CI)", _fmt(within["macro_auroc"]) + interval],
        ["micro AUROC (all pairs)", _fmt(within["micro_auroc"])],
    ]
    return lines + _table(["", "value"], rows)


def markdown_report(report: Mapping[str, Any]) -> str:
    """The report's tables as markdown."""
    meta = report["meta"]
    lines = [
        f"# FineCE evaluation: task {meta['task']}, {meta['answers']} answers",
        "",
        f"Scorer `{meta['scorer']}`, generator `{meta['generator']}`; "
        f"dev/test split {meta['dev']}/{meta['test']}.",
        "",
        "## Summary",
        "",
    ]
    undefined = report.get("summary_undefined", {})
    rows = [[key, _fmt(report["summary"][key]), undefined.get(key, "")] for key in SUMMARY_KEYS]
    lines += _table(["key", "value", "note"], rows)
    lines += _methods_md(report["methods"])
    lines += _positions_md(report["positions"])
    lines += _strategies_md(report["strategies"])
    lines += _bci_md(report["bci"])
    lines += _downstream_md(report["downstream"])
    lines += _within_md(report.get("within_question"))
    if report["flags"]["auroc_below_0_5"]:
        lines += ["## AUROC below 0.5 (worse than chance)", ""]
        lines += [f"- `{path}`" for path in report["flags"]["auroc_below_0_5"]] + [""]
    return "\n".join(lines)


# ----------------------------------------------------------------------- figures
def _best_baseline(report: Mapping[str, Any]) -> str | None:
    ranked = report.get("baselines_by_auroc", [])
    return str(ranked[0]["method"]) if ranked else None


def plot_reliability(report: Mapping[str, Any], path: str | Path, n_bins: int = 15) -> Path:
    """Reliability diagram (accuracy against confidence per bin) of FineCE and the best baseline."""
    from matplotlib.figure import Figure

    answers = report["answers"]
    series = {"FineCE (outcome)": [(a["finece"]["outcome"], a["correct"]) for a in answers]}
    best = _best_baseline(report)
    if best is not None:
        series[best] = [
            (a["baselines"][best], a["correct"])
            for a in answers
            if a["baselines"].get(best) is not None
        ]
    figure = Figure(figsize=(5, 5))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for label, pairs in series.items():
        bins = reliability_bins([c for c, _ in pairs], [ok for _, ok in pairs], n_bins)
        full = [b for b in bins if b["count"] > 0]
        axes.plot(
            [b["confidence"] for b in full], [b["accuracy"] for b in full], marker="o", label=label
        )
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy")
    axes.set_title(f"Reliability ({n_bins} bins, {len(answers)} answers)")
    axes.legend(loc="upper left")
    return _save(figure, path)


def plot_positions(report: Mapping[str, Any], path: str | Path) -> Path:
    """FineCE's confidence against the share of the answer's tokens seen, one line per answer.

    Points: the question (0), each paragraph end and the outcome (1); green for correct answers,
    red for wrong ones.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    labelled: set[bool] = set()
    for answer in report["answers"]:
        tokens = max(int(answer["tokens"]), 1)
        finece = answer["finece"]
        xs = [0.0, *(index / tokens for index, _ in finece["process"]), 1.0]
        ys = [finece["question"], *(value for _, value in finece["process"]), finece["outcome"]]
        ok = bool(answer["correct"])
        label = None if ok in labelled else ("correct" if ok else "wrong")
        labelled.add(ok)
        colour = "tab:green" if ok else "tab:red"
        axes.plot(xs, ys, color=colour, alpha=0.5, marker=".", label=label)
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="share of answer tokens seen", ylabel="confidence")
    axes.set_title("FineCE confidence over the answer")
    if labelled:
        axes.legend(loc="lower right")
    return _save(figure, path)


def _save(figure: Any, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100)
    return target


def write_report(
    report: Mapping[str, Any],
    json_path: str | Path,
    *,
    markdown_path: str | Path | None = None,
    figures_dir: str | Path | None = None,
) -> dict[str, str]:
    """Write the JSON, markdown and PNGs; return their paths (also stored under ``files``).

    By default the markdown and the figures go next to the JSON, named after it
    (``OUT.md``, ``OUT.reliability.png``, ``OUT.positions.png``).
    """
    target = Path(json_path)
    stem = target.with_suffix("")
    figures = Path(figures_dir) if figures_dir is not None else target.parent
    files = {
        "json": str(target),
        "markdown": str(markdown_path or stem.with_suffix(".md")),
        "reliability": str(figures / f"{stem.name}.reliability.png"),
        "positions": str(figures / f"{stem.name}.positions.png"),
    }
    full = {**report, "files": files}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(jsonable(full), indent=2, allow_nan=False) + "\n", "utf-8")
    Path(files["markdown"]).write_text(markdown_report(report), "utf-8")
    plot_reliability(report, files["reliability"])
    plot_positions(report, files["positions"])
    return files
