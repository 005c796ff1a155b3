"""Does the scorer read the answer? Right vs wrong answers to the *same* question.

A pooled AUROC mixes two skills: telling hard questions from easy ones, and telling a right
answer from a wrong one. A guard that reads the stream is for the second. For every question
with at least one right and one wrong answer among the generator's own answers (its greedy
answer plus the sampled ones), every (right, wrong) pair counts 1 when the right answer gets the
higher confidence, 0.5 on a tie, 0 otherwise. The report gives the macro AUROC (the mean of the
per-question AUROCs), the micro share over all pairs, and a bootstrap interval over questions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from guardrail.errors import GuardrailConfigError

__all__ = ["AnswerGroup", "pair_counts", "within_question_report"]


@dataclass(frozen=True, slots=True)
class AnswerGroup:
    """The confidences and correctness of several answers to one question."""

    question_id: str
    confidences: tuple[float, ...]
    correct: tuple[bool, ...]

    def __post_init__(self) -> None:
        if len(self.confidences) != len(self.correct):
            raise GuardrailConfigError(
                f"question {self.question_id}: {len(self.confidences)} confidences for "
                f"{len(self.correct)} answers"
            )
        bad = [c for c in self.confidences if not 0.0 <= c <= 1.0]  # NaN fails both
        if bad:
            raise GuardrailConfigError(
                f"question {self.question_id}: confidences must lie in [0, 1], got {bad[0]}"
            )


def pair_counts(group: AnswerGroup) -> tuple[float, int]:
    """``(pairs ranked right, pairs)`` of the group; ties count one half."""
    right = [c for c, ok in zip(group.confidences, group.correct, strict=True) if ok]
    wrong = [c for c, ok in zip(group.confidences, group.correct, strict=True) if not ok]
    won = sum(1.0 if r > w else 0.5 if r == w else 0.0 for r in right for w in wrong)
    return won, len(right) * len(wrong)


def _macro(per_question: Sequence[float], indices: Any = None) -> float:
    values = np.asarray(per_question, dtype=np.float64)
    if indices is not None:
        values = values[indices]
    return float(values.mean()) if values.size else math.nan


def within_question_report(
    groups: Sequence[AnswerGroup], *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Macro and micro within-question AUROC with a bootstrap interval over questions."""
    mixed = [(g, *pair_counts(g)) for g in groups]
    mixed = [(g, won, pairs) for g, won, pairs in mixed if pairs > 0]
    per_question = [won / pairs for _, won, pairs in mixed]
    total_pairs = sum(pairs for _, _, pairs in mixed)
    ranked_right = sum(won for _, won, _ in mixed)
    report: dict[str, Any] = {
        "questions": len(groups),
        "questions_mixed": len(mixed),
        "answers_per_question": (
            float(np.mean([len(g.correct) for g in groups])) if groups else math.nan
        ),
        "pairs": total_pairs,
        "pairs_ranked_right": ranked_right,
        "macro_auroc": _macro(per_question),
        "micro_auroc": ranked_right / total_pairs if total_pairs else math.nan,
        "ci": {},
    }
    if not mixed:
        report["undefined"] = "no question has both a right and a wrong answer"
        return report
    if n_bootstrap > 0 and len(mixed) >= 2:
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(mixed), size=(n_bootstrap, len(mixed)))
        values = np.array([_macro(per_question, idx) for idx in draws])
        report["ci"]["macro_auroc"] = [float(v) for v in np.percentile(values, [2.5, 97.5])]
    return report
