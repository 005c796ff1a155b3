"""Summary of a label file: counts by kind, label histograms, share of informative questions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LabelSummary", "summarize"]

KINDS = ("question", "process", "outcome")


@dataclass(slots=True)
class LabelSummary:
    """Figures over the committed records of a store.

    ``histograms[kind][tenth]`` counts labels rounded to tenths (``"0.0"`` ... ``"1.0"``);
    ``mixed_share`` is the share of questions whose fraction correct is strictly between 0 and 1
    (the questions whose labels say something beyond "always right" or "always wrong").
    """

    questions: int = 0
    labels_by_kind: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, dict[str, int]] = field(default_factory=dict)
    mixed_share: float = 0.0
    mean_fraction_correct: float = 0.0
    by_difficulty: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "questions": self.questions,
            "labels_by_kind": self.labels_by_kind,
            "histograms": self.histograms,
            "mixed_share": self.mixed_share,
            "mean_fraction_correct": self.mean_fraction_correct,
            "by_difficulty": self.by_difficulty,
        }

    def format(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"questions: {self.questions}",
            "labels: " + ", ".join(f"{k} {self.labels_by_kind.get(k, 0)}" for k in KINDS),
            f"mean fraction correct: {self.mean_fraction_correct:.3f}",
            f"questions with 0 < fraction correct < 1: {self.mixed_share:.1%}",
        ]
        for kind in KINDS:
            histogram = self.histograms.get(kind, {})
            if histogram:
                cells = " ".join(f"{tenth}:{count}" for tenth, count in histogram.items())
                lines.append(f"{kind} labels by tenth: {cells}")
        for difficulty, figures in self.by_difficulty.items():
            lines.append(
                f"difficulty {difficulty}: {figures['questions']:.0f} questions, "
                f"mean fraction correct {figures['mean_fraction_correct']:.3f}, "
                f"mixed {figures['mixed_share']:.1%}"
            )
        return "\n".join(lines)


def _tenth(label: float) -> str:
    return f"{round(label * 10) / 10:.1f}"


def summarize(records: Iterable[Mapping[str, Any]]) -> LabelSummary:
    """Summarise committed store records (labels and ``done`` markers)."""
    kinds: Counter[str] = Counter()
    histograms: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    fractions: list[tuple[float, str | None]] = []
    for record in records:
        if record.get("type") == "label":
            kind = str(record.get("text_kind"))
            kinds[kind] += 1
            histograms.setdefault(kind, Counter())[_tenth(float(record["label"]))] += 1
        elif record.get("type") == "done":
            difficulty = (record.get("metadata") or {}).get("difficulty")
            fraction = float(record.get("fraction_correct", 0.0))
            fractions.append((fraction, None if difficulty is None else str(difficulty)))
    summary = LabelSummary(
        questions=len(fractions),
        labels_by_kind={kind: kinds[kind] for kind in sorted(kinds)},
        histograms={
            kind: {tenth: counts[tenth] for tenth in sorted(counts)}
            for kind, counts in histograms.items()
            if counts
        },
    )
    summary.mean_fraction_correct, summary.mixed_share = _fraction_figures(
        [f for f, _ in fractions]
    )
    for difficulty in sorted({d for _, d in fractions if d is not None}):
        group = [f for f, d in fractions if d == difficulty]
        mean, mixed = _fraction_figures(group)
        summary.by_difficulty[difficulty] = {
            "questions": float(len(group)),
            "mean_fraction_correct": mean,
            "mixed_share": mixed,
        }
    return summary


def _fraction_figures(fractions: list[float]) -> tuple[float, float]:
    if not fractions:
        return 0.0, 0.0
    mixed = sum(0.0 < f < 1.0 for f in fractions)
    return sum(fractions) / len(fractions), mixed / len(fractions)
