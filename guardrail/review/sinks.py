"""Where the review queue announces news: a sink hears of each committed item and decision."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from guardrail.review.models import ReviewItem

__all__ = ["ReviewEvent", "ReviewSink"]

ReviewEvent = Literal["review.enqueued", "review.decided"]


@runtime_checkable
class ReviewSink(Protocol):
    """Told about an item after it was committed; notifications are at-least-once.

    A sink that cannot deliver raises a :class:`~guardrail.errors.GuardrailRuntimeError`
    (the item stays committed); receivers dedupe on ``(event, item.id)``.
    """

    def notify(self, event: ReviewEvent, item: ReviewItem) -> None:
        """Deliver one notification."""
        ...
