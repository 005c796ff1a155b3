"""Re-state the calibration figures of the cached evaluation reports beside their noise floor.

Reads the per-answer records (``answers``: each answer's scorer confidence and right/wrong) that
``guardrail eval`` keeps in its JSON reports, recomputes every figure with
:func:`guardrail.reliability.calibration_summary` (ECE-15 beside the ECE of a perfectly
calibrated scorer at the same confidences, simulated 1000 times with seed 0; mean confidence
minus accuracy; Brier score) and writes ``reports/calibration-noise.md``. No model runs::

    .venv/bin/python reports/calibration_noise.py            # writes reports/calibration-noise.md
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guardrail.reliability import CalibrationSummary, calibration_summary

HERE = Path(__file__).resolve().parent
OUT = HERE / "calibration-noise.md"
LOGPROB_SIGNALS = ("mean_logprob", "min_window", "mean_entropy")
FAMILIES = ("facts", "fact-choice", "table-lookup", "unit-conversion", "synthetic")

Pairs = tuple[list[float], list[bool]]


def load(path: Path) -> dict[str, Any]:
    """One cached evaluation report."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def scorer_pairs(report: dict[str, Any]) -> Pairs:
    """The report scorer's outcome confidence and the outcome of every answer."""
    answers = [a for a in report["answers"] if a["finece"]["outcome"] is not None]
    return [float(a["finece"]["outcome"]) for a in answers], [bool(a["correct"]) for a in answers]


def best_signal(report: dict[str, Any]) -> str | None:
    """The logprob signal with the best outcome AUROC in the report (picked after the fact)."""
    ranked = [row["method"] for row in report.get("baselines_by_auroc", [])]
    return next((name for name in ranked if name in LOGPROB_SIGNALS), None)


def signal_pairs(report: dict[str, Any], name: str) -> Pairs:
    """Baseline ``name``'s confidence and the outcome of every answer that has one."""
    answers = [a for a in report["answers"] if a["baselines"].get(name) is not None]
    return [float(a["baselines"][name]) for a in answers], [bool(a["correct"]) for a in answers]


def join(parts: Sequence[Pairs]) -> Pairs:
    """Pool several families' answers."""
    return [c for p in parts for c in p[0]], [y for p in parts for y in p[1]]


HEADER = (
    "| answers | n | accuracy | mean conf. | conf. - acc. | Brier | ECE-15 | floor [95%] "
    "| within noise |\n|---|---|---|---|---|---|---|---|---|"
)


def row(label: str, pairs: Pairs) -> str:
    """One table row of the summary of ``pairs``."""
    s: CalibrationSummary = calibration_summary(*pairs)
    p = "p < 0.001" if s.noise_p < 0.001 else f"p = {s.noise_p:.3f}"
    within = "yes" if s.within_noise else f"**no** ({p})"
    return (
        f"| {label} | {s.n} | {s.accuracy:.2f} | {s.mean_confidence:.3f} | "
        f"{s.confidence_gap:+.3f} | {s.brier:.3f} | {s.ece:.3f} | {s.noise_floor:.3f} "
        f"[{s.noise_q95:.3f}] | {within} |"
    )


def default_scorer() -> list[str]:
    """The default scorer on 200 held-out arithmetic questions (docs/research/default-scorer)."""
    lines = ["## The default scorer, 200 held-out arithmetic questions", "", HEADER]
    for name, label in (
        ("eval-synthetic-heldout", "shipped `builtin:finece-smollm2`"),
        ("eval-synthetic-heldout-stage1", "stage 1"),
        ("eval-synthetic-heldout-value-head", "value-head ablation (first 100)"),
    ):
        report = load(HERE / "finece-smollm2" / f"{name}.json")
        lines.append(row(label, scorer_pairs(report)))
        if name == "eval-synthetic-heldout":
            signal = best_signal(report)
            if signal is not None:
                lines.append(row(f"best logprob signal ({signal})", signal_pairs(report, signal)))
    return [*lines, ""]


def multidomain() -> list[str]:
    """Five families, 60 held-out questions each (docs/research/multidomain)."""
    lines = ["## Five task families, 60 held-out questions each, and pooled", ""]
    for prefix, title in (
        ("shipped", "shipped scorer"),
        ("stage1", "stage 1 of the shipped scorer"),
        ("v3", "multi-domain candidate (scorer-v3)"),
        ("lofo", "left-out-family scorers (each family scored by the scorer that never saw it)"),
    ):
        lines += [f"### {title}", "", HEADER]
        parts: list[Pairs] = []
        signals: list[Pairs] = []
        for family in FAMILIES:
            path = HERE / "multidomain" / f"{prefix}-{family}.json"
            if not path.is_file():
                continue
            report = load(path)
            parts.append(scorer_pairs(report))
            lines.append(row(family, parts[-1]))
            signal = best_signal(report)
            if prefix == "shipped" and signal is not None:
                signals.append(signal_pairs(report, signal))
                lines.append(row(f"{family}: best logprob signal ({signal})", signals[-1]))
        lines.append(row(f"pooled ({len(parts)} families)", join(parts)))
        lines.append("")
    return lines


CROSS_SCORERS = (
    ("finece-smollm2", "shipped SmolLM2-trained scorer"),
    ("finece-smollm2-v3", "multi-domain SmolLM2-trained candidate"),
    ("hybrid-finece-smollm2", "hybrid scorer, shipped Gemma combiner"),
    ("finece-gemma3-15", "scorer trained on 15 Gemma questions"),
    ("finece-gemma3-30", "on 30"),
    ("finece-gemma3-50", "on 50"),
    ("finece-gemma3-100", "on 100"),
    ("finece-gemma3-all", "on all built Gemma questions"),
)


def cross_generator() -> list[str]:
    """Gemma 3 270M's answers, 30 held-out questions per family (docs/research/generators)."""
    lines = [
        "## Another generator: Gemma 3 270M, 30 held-out questions per family",
        "",
        "Every scorer on the same Gemma answers (`reports/cross-generator/`).",
        "",
        HEADER,
    ]
    for stem, label in CROSS_SCORERS:
        parts = []
        for family in ("facts", "unit-conversion"):
            path = HERE / "cross-generator" / f"{stem}-{family}.json"
            if path.is_file():
                parts.append(scorer_pairs(load(path)))
                lines.append(row(f"{label}: {family}", parts[-1]))
        if len(parts) > 1:
            lines.append(row(f"{label}: pooled", join(parts)))
    return [*lines, ""]


INTRO = """# Calibration beside its noise floor

Recomputed by `reports/calibration_noise.py` from the per-answer records the cached
`guardrail eval` reports keep (no model was run). For each set of answers: accuracy, mean
confidence, their difference (positive: over-confident), the Brier score, ECE with 15 equal-width
bins, and its **noise floor**: the mean ECE-15 of a perfectly calibrated scorer with the very
same confidences (outcomes redrawn 1000 times as Bernoulli(confidence), seed 0), with its 95th
percentile in brackets. *Within noise* means the measured ECE is at most that percentile: on
these answers it cannot be told apart from a calibrated scorer's. *No* gives p, the share of
calibrated draws with an ECE at least the measured one. See `docs/calibration.md`.

The logprob signals are raw (an exponentiated mean log-probability is not a probability of being
right); a `logprob:` scorer applies its model's Platt map (`guardrail calibrate`), so their rows
show why that map is needed, not how the calibrated scorer does.
"""


def main() -> None:
    """Write ``reports/calibration-noise.md``."""
    text = "\n".join([INTRO, *default_scorer(), *multidomain(), *cross_generator()])
    OUT.write_text(text.rstrip() + "\n", encoding="utf-8")
    print(OUT)


if __name__ == "__main__":
    main()
