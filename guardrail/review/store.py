"""The narrow storage interface of the review queue, and where its database lives by default.

:class:`ReviewStore` is all the queue needs from a database; :class:`SQLiteReviewQueue` is the
embedded implementation and :class:`PostgresReviewQueue` the one for a fleet.
:func:`guardrail.review.backends.open_review_store` picks one by URL.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TextIO, runtime_checkable

from guardrail.review.models import ReviewItem, ReviewStatus, Verdict

if TYPE_CHECKING:
    from guardrail.review.errors import InvalidRowError

__all__ = [
    "ExportFormat",
    "InvalidRowHandler",
    "ReviewStore",
    "StatusFilter",
    "default_review_db",
    "default_review_db_path",
]

ExportFormat = Literal["jsonl", "csv"]
StatusFilter = ReviewStatus | str | Collection[ReviewStatus | str] | None
InvalidRowHandler = Callable[["InvalidRowError"], None]
"""Told about each stored row that is not a valid item (``list`` and ``export`` skip it)."""

ENV_REVIEW_DB = "GUARDRAIL_REVIEW_DB"


def default_review_db_path() -> Path:
    """``$GUARDRAIL_REVIEW_DB``, else ``$XDG_CACHE_HOME/guardrail/review.db`` (``~/.cache``)."""
    configured = os.environ.get(ENV_REVIEW_DB, "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "guardrail" / "review.db"


def default_review_db() -> str:
    """``$GUARDRAIL_REVIEW_DB`` as given (a path or a URL), else :func:`default_review_db_path`."""
    configured = os.environ.get(ENV_REVIEW_DB, "").strip()
    return configured or str(default_review_db_path())


@runtime_checkable
class ReviewStore(Protocol):
    """Durable storage of review items.

    Writes are atomic and safe from several threads and processes. Unknown ids raise
    :class:`~guardrail.review.errors.ReviewItemNotFoundError`.
    """

    def enqueue(self, item: ReviewItem, dedupe_key: str | None = None) -> ReviewItem:
        """Store a pending item and return the stored item.

        Idempotent: when an item with the same ``dedupe_key`` (or the same id) is already
        stored, nothing is written and that stored item is returned instead.
        """
        ...

    def get(self, item_id: str) -> ReviewItem:
        """The item with this id."""
        ...

    def list(
        self,
        *,
        status: StatusFilter = None,
        queue: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        on_invalid: InvalidRowHandler | None = None,
    ) -> builtins.list[ReviewItem]:
        """Items oldest first, filtered by status(es), queue and creation time (``>= since``).

        A stored row that is not a valid item is skipped and passed to ``on_invalid`` (by
        default: a warning on the ``guardrail.review`` logger); ``limit`` counts rows read.
        """
        ...

    def decide(
        self,
        item_id: str,
        verdict: Verdict | str,
        reviewer: str,
        edited_answer: str | None = None,
        note: str | None = None,
        *,
        force: bool = False,
    ) -> ReviewItem:
        """Record a final decision and return the decided item.

        Raises :class:`~guardrail.review.errors.AlreadyDecidedError` for a decided item,
        :class:`~guardrail.review.errors.InvalidDecisionError` for a malformed decision
        (``edit`` needs ``edited_answer``; names and sizes are bounded) and
        :class:`~guardrail.review.errors.ItemClaimedError` when another reviewer holds a live
        claim on the item. The claim check and the write are one conditional ``UPDATE``.
        ``force`` decides over such a claim and records its holder as the decision's
        ``overrode_claim``; the caller checks that the reviewer may (``ReviewQueue`` allows
        its admins only).
        """
        ...

    def claim(
        self,
        reviewer: str,
        *,
        queue: str | None = None,
        lease_s: float = 900.0,
        wait_s: float = 0.0,
    ) -> ReviewItem | None:
        """Claim the oldest pending item nobody holds for ``lease_s`` seconds; ``None`` if none.

        Two reviewers never hold the same item at once. ``wait_s`` waits that long for one.
        """
        ...

    def release(self, item_id: str, reviewer: str) -> ReviewItem:
        """Give back ``reviewer``'s claim on the item."""
        ...

    def pending_counts(self) -> dict[str, int]:
        """Pending items per queue."""
        ...

    def wait(self, item_id: str, timeout_s: float, poll_s: float = 0.5) -> ReviewItem:
        """Block until the item is decided and return it.

        Raises :class:`~guardrail.review.errors.ReviewTimeoutError` after ``timeout_s``.
        """
        ...

    def export(
        self,
        out: TextIO,
        *,
        format: ExportFormat = "jsonl",
        status: StatusFilter = None,
        queue: str | None = None,
        since: datetime | None = None,
        on_invalid: InvalidRowHandler | None = None,
    ) -> int:
        """Write the matching items to ``out``; return how many were written.

        Invalid rows are skipped and reported as by :meth:`list`.
        """
        ...

    def close(self) -> None:
        """Release connections; further calls are an error."""
        ...
