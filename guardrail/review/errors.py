"""Failures of the human review queue and its sinks.

All are :class:`~guardrail.errors.GuardrailRuntimeError` subclasses, so the CLI maps them to exit
status 1; ``is_retryable`` says whether the same call may succeed later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from guardrail.errors import GuardrailRuntimeError

__all__ = [
    "AlreadyDecidedError",
    "InvalidDecisionError",
    "InvalidRowError",
    "ItemClaimedError",
    "ReviewError",
    "ReviewItemNotFoundError",
    "ReviewNotifyError",
    "ReviewPermissionError",
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


class ItemClaimedError(ReviewError):
    """Another reviewer holds a live claim on the item; deciding it is refused.

    Retryable: the claim lapses at ``claimed_until``, or its holder releases it. An admin may
    decide anyway with ``force`` (recorded as the decision's ``overrode_claim``).
    """

    is_retryable = True

    def __init__(self, item_id: str, holder: str, claimed_until: datetime | None) -> None:
        until = (
            ""
            if claimed_until is None
            else f" until {claimed_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
        super().__init__(
            f"review item {item_id!r} is claimed by {holder!r}{until}; wait for the claim to "
            f"lapse, ask {holder!r} to release it, or decide with force as an admin reviewer"
        )
        self.item_id = item_id
        self.holder = holder
        self.claimed_until = claimed_until


class ReviewPermissionError(ReviewError, PermissionError):
    """The reviewer may not do this (a forced decision by a reviewer who is not an admin)."""


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


ROW_ERRORS = (ValueError, TypeError, LookupError, AttributeError, OverflowError)
"""What rebuilding an item from a stored row raises on invalid contents (pydantic's
``ValidationError`` is a ``ValueError``; a missing column is a ``KeyError`` or, from an
SQLite row, an ``IndexError``)."""


class InvalidRowError(ReviewStoreError):
    """A stored row is not a valid review item (edited by hand or by another tool).

    ``item_id`` is the row's id as stored (any type; ``None`` when it could not be read).
    ``list`` and ``export`` report such rows and skip them; ``get`` raises.
    """

    def __init__(self, message: str, item_id: object) -> None:
        super().__init__(message)
        self.item_id = item_id


def invalid_row(row_id: object, exc: BaseException) -> InvalidRowError:
    """The :class:`InvalidRowError` for a stored row that is not a valid item."""
    detail = " ".join(str(exc).split())[:300]
    where = repr(row_id)[:80]
    return InvalidRowError(
        f"review item {where} in the database is invalid ({type(exc).__name__}: {detail})",
        row_id,
    )
