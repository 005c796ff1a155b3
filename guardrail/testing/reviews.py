"""Review stores with decided items, for tests and demos of the reviewer loop.

:func:`add_decided` enqueues items (a question, an answer, the live confidence, the generator's
name) into any :class:`~guardrail.review.ReviewStore` and decides each at once, so the labels
(:mod:`guardrail.lab.review_labels`), the report's calibration section and the drift monitor
(:mod:`guardrail.runtime.drift`) can be exercised on a real store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from guardrail.review import ReviewItem, ReviewStore, Verdict

__all__ = ["Decided", "add_decided", "calibrated_verdicts"]


@dataclass(frozen=True, slots=True)
class Decided:
    """One item to store decided: ``verdict`` on ``answer`` given at ``confidence``."""

    confidence: float | None
    verdict: Verdict | str
    question: str = "What is 2 + 2?"
    answer: str = "4"
    model: str | None = "builtin:smollm2-135m-instruct"
    edited_answer: str | None = None
    partial: bool = False


def add_decided(store: ReviewStore, items: Iterable[Decided], reviewer: str = "tester") -> int:
    """Enqueue every item and decide it; return how many were stored.

    An ``edit`` without ``edited_answer`` gets ``"(edited) " + answer``.
    """
    count = 0
    for entry in items:
        stored = store.enqueue(
            ReviewItem(
                question=entry.question,
                answer=entry.answer,
                confidence=entry.confidence,
                model=entry.model,
                partial=entry.partial,
            )
        )
        verdict = Verdict(entry.verdict)
        edited = None
        if verdict is Verdict.EDIT:
            edited = entry.edited_answer or f"(edited) {entry.answer}"
        store.decide(stored.id, verdict, reviewer, edited_answer=edited)
        count += 1
    return count


def calibrated_verdicts(
    confidences: Iterable[float], uniforms: Iterable[float], *, shift: float = 0.0
) -> list[Decided]:
    """Items whose answers are right with probability ``confidence - shift``.

    ``uniforms`` are draws in [0, 1) (one per confidence): an answer is approved when its draw
    lies below ``confidence - shift`` and rejected otherwise, so ``shift=0`` makes a perfectly
    calibrated scorer and ``shift > 0`` an over-confident one.
    """
    return [
        Decided(confidence=c, verdict=Verdict.APPROVE if u < c - shift else Verdict.REJECT)
        for c, u in zip(confidences, uniforms, strict=True)
    ]
