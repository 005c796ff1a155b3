"""The review queue as the guard and reviewers use it: a store, plus sinks told about changes.

Sinks (and the optional audit log) hear about an item only after it is committed. When one of
them fails, the others are still told and :class:`~guardrail.review.errors.ReviewNotifyError`
is raised afterwards; the item stays committed, and enqueueing it again with the same dedupe
key is a no-op that returns it.

Claims are enforced: deciding an item another reviewer holds is refused
(:class:`~guardrail.review.errors.ItemClaimedError`) until the claim lapses or is released.
An admin reviewer (``admins``, by default ``$GUARDRAIL_REVIEW_ADMINS``) may decide anyway with
``force=True``; the decision then records whose claim it overrode and the audit log says so.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from guardrail.errors import GuardrailConfigError
from guardrail.review.backends import open_review_store
from guardrail.review.errors import ReviewNotifyError, ReviewPermissionError, ReviewTimeoutError
from guardrail.review.models import ReviewDecision, ReviewItem, Verdict, reviewer_name_problem
from guardrail.review.sinks import ReviewEvent, ReviewSink
from guardrail.review.store import ExportFormat, InvalidRowHandler, ReviewStore, StatusFilter

if TYPE_CHECKING:
    from guardrail.audit.log import AuditLog

__all__ = ["ENV_REVIEW_ADMINS", "ReviewQueue", "admins_from_env"]

logger = logging.getLogger("guardrail.review")

_WAIT_SLICE_S = 2.0

ENV_REVIEW_ADMINS = "GUARDRAIL_REVIEW_ADMINS"


def admins_from_env() -> frozenset[str]:
    """The admin reviewers named in ``$GUARDRAIL_REVIEW_ADMINS`` (comma-separated)."""
    raw = os.environ.get(ENV_REVIEW_ADMINS, "")
    return _check_admins(name.strip() for name in raw.split(",") if name.strip())


def _check_admins(names: Iterable[str]) -> frozenset[str]:
    admins = frozenset(names)
    for name in admins:
        problem = reviewer_name_problem(name)
        if problem is not None:
            raise GuardrailConfigError(f"admin reviewer {name!r}: {problem}")
    return admins


class ReviewQueue:
    """Enqueue answers for human review, decide on them, and wait for decisions.

    ``store`` defaults to the store at ``path``: a file or ``sqlite:///PATH`` (SQLite) or a
    ``postgresql://`` URL, itself defaulting to ``$GUARDRAIL_REVIEW_DB`` or the user cache
    (see :func:`~guardrail.review.backends.open_review_store`). ``sinks`` are notified
    of ``review.enqueued`` and ``review.decided``; ``audit`` records an ``action`` per enqueued
    item and a ``decision`` per human decision, under the item's ``run_id`` (else its id).
    ``admins`` are the reviewers who may decide over another reviewer's claim with
    ``force=True`` (default: :func:`admins_from_env`). :meth:`close` also closes the sinks that
    have a ``close`` (a background webhook delivers what is pending first).
    """

    def __init__(
        self,
        store: ReviewStore | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        sinks: Sequence[ReviewSink] = (),
        audit: AuditLog | None = None,
        admins: Collection[str] | None = None,
    ) -> None:
        if store is not None and path is not None:
            raise GuardrailConfigError("pass either store or path to ReviewQueue, not both")
        self._admins = admins_from_env() if admins is None else _check_admins(admins)
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

    @property
    def admins(self) -> frozenset[str]:
        """The reviewers allowed to force a decision over another reviewer's claim."""
        return self._admins

    def close(self) -> None:
        """Close the sinks that can be closed (flushing background deliveries), then the store."""
        try:
            for sink in self._sinks:
                close = getattr(sink, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception as exc:  # the store is closed regardless
                        logger.error("review sink %r did not close cleanly: %s", sink, exc)
        finally:
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
        *,
        force: bool = False,
    ) -> ReviewItem:
        """Record a final decision and notify sinks.

        ``force`` decides over another reviewer's live claim; only :attr:`admins` may, anyone
        else gets :class:`~guardrail.review.errors.ReviewPermissionError`. A forced decision
        that overrode a claim is logged at WARNING and audited with ``overrode_claim``.
        """
        if force and reviewer not in self._admins:
            raise ReviewPermissionError(
                f"{reviewer!r} may not force a decision: only admin reviewers may "
                f"(${ENV_REVIEW_ADMINS} or ReviewQueue(admins=...))"
            )
        item = self._store.decide(item_id, verdict, reviewer, edited_answer, note, force=force)
        if item.decision is not None and item.decision.overrode_claim is not None:
            logger.warning(
                "review item %r: %r decided over the live claim of %r (forced by an admin)",
                item.id,
                reviewer,
                item.decision.overrode_claim,
            )
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

    def approve(
        self, item_id: str, reviewer: str, note: str | None = None, *, force: bool = False
    ) -> ReviewItem:
        """Approve the answer as it stands."""
        return self.decide(item_id, Verdict.APPROVE, reviewer, note=note, force=force)

    def reject(
        self, item_id: str, reviewer: str, note: str | None = None, *, force: bool = False
    ) -> ReviewItem:
        """Reject the answer; nothing is released."""
        return self.decide(item_id, Verdict.REJECT, reviewer, note=note, force=force)

    def edit(
        self,
        item_id: str,
        reviewer: str,
        edited_answer: str,
        note: str | None = None,
        *,
        force: bool = False,
    ) -> ReviewItem:
        """Replace the answer with ``edited_answer`` (at most ``MAX_ANSWER_CHARS``)."""
        return self.decide(item_id, Verdict.EDIT, reviewer, edited_answer, note, force=force)

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
        on_invalid: InvalidRowHandler | None = None,
    ) -> builtins.list[ReviewItem]:
        """Items oldest first, filtered by status(es), queue and creation time.

        Invalid stored rows are skipped and passed to ``on_invalid`` (default: a warning).
        """
        return self._store.list(
            status=status, queue=queue, since=since, limit=limit, on_invalid=on_invalid
        )

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
        on_invalid: InvalidRowHandler | None = None,
    ) -> int:
        """Write the matching items as JSON lines or CSV; return how many were written."""
        return self._store.export(
            out, format=format, status=status, queue=queue, since=since, on_invalid=on_invalid
        )

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
            if item.decision.overrode_claim is not None:
                payload["forced"] = True
                payload["overrode_claim"] = item.decision.overrode_claim
            self._audit.record("decision", run_id, payload)
