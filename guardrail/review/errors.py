"""Failures of the human review queue and its sinks.

All are :class:`~guardrail.errors.GuardrailRuntimeError` subclasses, so the CLI maps them to exit
status 1; ``is_retryable`` says whether the same call may succeed later.
"""

from __future__ import annotations

from collections.abc import Sequence

from guardrail.errors import GuardrailRuntimeError

__all__ = [
    "AlreadyDecidedError",
    "InvalidDecisionError",
    "ReviewError",
    "ReviewItemNotFoundError",
    "ReviewNotifyError",
    "ReviewStoreError",
    "ReviewTimeoutError",
    "WebhookDeliveryError",
]


class ReviewError(GuardrailRuntimeError):
    """Base class of review queue failures."""


class ReviewItemNotFoundError(ReviewError, LookupError):
    """No review item has the requested id."""

    def __init__(self, item_id: str, where: str = "") -> None:
        suffix = f" in {where}" if where else ""
        super().__init__(f"no review item with id {item_id!r}{suffix}")
        self.item_id = item_id


class AlreadyDecidedError(ReviewError):
    """The item already carries a decision; decisions are final."""

    def __init__(self, item_id: str, status: str, reviewer: str | None) -> None:
        by = f" by {reviewer!r}" if reviewer else ""
        super().__init__(f"review item {item_id!r} is already {status}{by}; decisions are final")
        self.item_id = item_id
        self.status = status
        self.reviewer = reviewer


class InvalidDecisionError(ReviewError, ValueError):
    """A decision is malformed (``edit`` without an edited answer, empty reviewer, ...)."""


class ReviewTimeoutError(ReviewError, TimeoutError):
    """No decision arrived within the time a caller was willing to wait."""

    is_retryable = True

    def __init__(self, item_id: str, timeout_s: float) -> None:
        super().__init__(f"review item {item_id!r} was not decided within {timeout_s:g}s")
        self.item_id = item_id
        self.timeout_s = timeout_s


class ReviewStoreError(ReviewError):
    """The backing store failed: locked for too long (retryable), disk full, corrupt file."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.is_retryable = retryable


class WebhookDeliveryError(ReviewError):
    """A webhook could not be delivered and no dead-letter file was configured to keep it."""

    def __init__(self, message: str, *, attempts: int, status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


class ReviewNotifyError(ReviewError):
    """The item was committed, but one or more sinks failed to hear about it.

    ``item_id`` is the committed item; ``errors`` the sink failures, in sink order. Enqueueing
    again with the same dedupe key is safe: it returns the stored item.
    """

    def __init__(self, item_id: str, errors: Sequence[BaseException]) -> None:
        detail = "; ".join(f"{type(err).__name__}: {err}" for err in errors)
        super().__init__(
            f"review item {item_id!r} was committed but {len(errors)} sink(s) failed: {detail}"
        )
        self.item_id = item_id
        self.errors = tuple(errors)


ROW_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError)
"""What rebuilding an item from a stored row raises on invalid contents (pydantic's
``ValidationError`` is a ``ValueError``)."""


def invalid_row(row_id: object, exc: BaseException) -> ReviewStoreError:
    """The :class:`ReviewStoreError` for a stored row that is not a valid item."""
    detail = " ".join(str(exc).split())[:300]
    where = repr(row_id)[:80]
    return ReviewStoreError(
        f"review item {where} in the database is invalid ({type(exc).__name__}: {detail})"
    )
