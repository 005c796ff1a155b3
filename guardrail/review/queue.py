"""The review queue as the guard and reviewers use it: a store, plus sinks told about changes.

Sinks (and the optional audit log) hear about an item only after it is committed. When one of
them fails, the others are still told and :class:`~guardrail.review.errors.ReviewNotifyError`
is raised afterwards; the item stays committed, and enqueueing it again with the same dedupe
key is a no-op that returns it.
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from guardrail.errors import GuardrailConfigError
from guardrail.review.backends import open_review_store
from guardrail.review.errors import ReviewNotifyError, ReviewTimeoutError
from guardrail.review.models import ReviewDecision, ReviewItem, Verdict
from guardrail.review.sinks import ReviewEvent, ReviewSink
from guardrail.review.store import ExportFormat, ReviewStore, StatusFilter

if TYPE_CHECKING:
    from guardrail.audit.log import AuditLog

__all__ = ["ReviewQueue"]

_WAIT_SLICE_S = 2.0


class ReviewQueue:
    """Enqueue answers for human review, decide on them, and wait for decisions.

    ``store`` defaults to the store at ``path``: a file or ``sqlite:///PATH`` (SQLite) or a
    ``postgresql://`` URL, itself defaulting to ``$GUARDRAIL_REVIEW_DB`` or the user cache
    (see :func:`~guardrail.review.backends.open_review_store`). ``sinks`` are notified
    of ``review.enqueued`` and ``review.decided``; ``audit`` records an ``action`` per enqueued
    item and a ``decision`` per human decision, under the item's ``run_id`` (else its id).
    """

    def __init__(
        self,
        store: ReviewStore | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        sinks: Sequence[ReviewSink] = (),
        audit: AuditLog | None = None,
    ) -> None:
        if store is not None and path is not None:
            raise GuardrailConfigError("pass either store or path to ReviewQueue, not both")
        self._store: ReviewStore = store if store is not None else open_review_store(path)
        self._sinks = tuple(sinks)
        self._audit = audit

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self._store!r}, sinks={list(self._sinks)!r})"

    def __enter__(self) -> ReviewQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def store(self) -> ReviewStore:
        """The underlying store."""
        return self._store

    def close(self) -> None:
        """Close the store."""
        self._store.close()

    # --------------------------------------------------------------------- writes
    def enqueue(self, item: ReviewItem, dedupe_key: str | None = None) -> ReviewItem:
        """Store ``item`` (idempotent on ``dedupe_key``) and notify sinks when it is new."""
        stored = self._store.enqueue(item, dedupe_key)
        if stored.id == item.id:
            self._announce("review.enqueued", stored)
        return stored

    def decide(
        self,
        item_id: str,
        verdict: Verdict | str,
        reviewer: str,
        edited_answer: str | None = None,
        note: str | None = None,
    ) -> ReviewItem:
        """Record a final decision and notify sinks."""
        item = self._store.decide(item_id, verdict, reviewer, edited_answer, note)
        self._announce("review.decided", item)
        return item

    def claim(
        self,
        reviewer: str,
        *,
        queue: str | None = None,
        lease_s: float = 900.0,
        wait_s: float = 0.0,
    ) -> ReviewItem | None:
        """Claim the oldest pending item nobody holds (see :meth:`ReviewStore.claim`)."""
        return self._store.claim(reviewer, queue=queue, lease_s=lease_s, wait_s=wait_s)

    def release(self, item_id: str, reviewer: str) -> ReviewItem:
        """Give back ``reviewer``'s claim on the item."""
        return self._store.release(item_id, reviewer)

    def approve(self, item_id: str, reviewer: str, note: str | None = None) -> ReviewItem:
        """Approve the answer as it stands."""
        return self.decide(item_id, Verdict.APPROVE, reviewer, note=note)

    def reject(self, item_id: str, reviewer: str, note: str | None = None) -> ReviewItem:
        """Reject the answer; nothing is released."""
        return self.decide(item_id, Verdict.REJECT, reviewer, note=note)

    def edit(
        self, item_id: str, reviewer: str, edited_answer: str, note: str | None = None
    ) -> ReviewItem:
        """Replace the answer with ``edited_answer``."""
        return self.decide(item_id, Verdict.EDIT, reviewer, edited_answer, note)

    # ---------------------------------------------------------------------- reads
    def get(self, item_id: str) -> ReviewItem:
        """The item with this id."""
        return self._store.get(item_id)

    def list(
        self,
        *,
        status: StatusFilter = None,
        queue: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[ReviewItem]:
        """Items oldest first, filtered by status(es), queue and creation time."""
        return self._store.list(status=status, queue=queue, since=since, limit=limit)

    def pending_counts(self) -> dict[str, int]:
        """Pending items per queue (what the telemetry's queue depth gauge reports)."""
        return self._store.pending_counts()

    def poll(self, item_id: str) -> ReviewDecision | None:
        """The decision on an item, or ``None`` while it is pending (never blocks)."""
        return self._store.get(item_id).decision

    def wait(self, item_id: str, timeout_s: float, poll_s: float = 0.5) -> ReviewItem:
        """Block until the item is decided; raise ``ReviewTimeoutError`` after ``timeout_s``."""
        return self._store.wait(item_id, timeout_s, poll_s)

    async def wait_async(self, item_id: str, timeout_s: float, poll_s: float = 0.5) -> ReviewItem:
        """:meth:`wait` for async callers: the store waits in a worker thread.

        It waits in slices of a few seconds, so that a cancelled caller leaves no long wait.
        """
        if timeout_s < 0 or poll_s <= 0:
            raise GuardrailConfigError(
                f"wait needs timeout_s >= 0 and poll_s > 0, got {timeout_s!r} and {poll_s!r}"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = max(0.0, deadline - loop.time())
            try:
                return await asyncio.to_thread(
                    self._store.wait, item_id, min(remaining, _WAIT_SLICE_S), poll_s
                )
            except ReviewTimeoutError:
                if deadline - loop.time() <= 0:
                    raise ReviewTimeoutError(item_id, timeout_s) from None

    def export(
        self,
        out: TextIO,
        *,
        format: ExportFormat = "jsonl",
        status: StatusFilter = None,
        queue: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """Write the matching items as JSON lines or CSV; return how many were written."""
        return self._store.export(out, format=format, status=status, queue=queue, since=since)

    # ---------------------------------------------------------------------- news
    def _announce(self, event: ReviewEvent, item: ReviewItem) -> None:
        errors: builtins.list[Exception] = []
        if self._audit is not None:
            try:
                self._record(event, item)
            except Exception as exc:  # collected and raised below, after every sink ran
                errors.append(exc)
        for sink in self._sinks:
            try:
                sink.notify(event, item)
            except Exception as exc:  # collected and raised below, after every sink ran
                errors.append(exc)
        if errors:
            raise ReviewNotifyError(item.id, errors) from errors[0]

    def _record(self, event: ReviewEvent, item: ReviewItem) -> None:
        assert self._audit is not None
        run_id = item.run_id or item.id
        if event == "review.enqueued":
            payload = {
                "action": "human_review",
                "item_id": item.id,
                "queue": item.queue,
                "rule": item.rule,
                "confidence": item.confidence,
            }
            self._audit.record("action", run_id, payload)
        elif item.decision is not None:
            payload = {
                "source": "human_review",
                "item_id": item.id,
                "verdict": item.decision.verdict.value,
                "reviewer": item.decision.reviewer,
                "note": item.decision.note,
            }
            self._audit.record("decision", run_id, payload)
