"""The review queue on a PostgreSQL server: one queue for a fleet of workers and reviewers.

Needs the ``postgres`` extra. Every operation is one transaction on a pooled connection:

* ``enqueue`` inserts with ``ON CONFLICT DO NOTHING`` on the id and the ``UNIQUE`` dedupe key,
  so concurrent workers enqueueing the same key end with one row and all get it back;
* ``claim`` hands the oldest unclaimed pending item to one reviewer with
  ``SELECT ... FOR UPDATE SKIP LOCKED``: two reviewers never get the same item;
* ``wait`` and a waiting ``claim`` sleep on ``LISTEN/NOTIFY`` (``decided:<id>`` and
  ``enqueued:<queue>``), never in a polling loop;
* the schema is created and migrated on first use (versions in ``guardrail_schema``).

A lost connection (the server restarting) is retried for ``retry_s``. Enqueue is idempotent, so
a retry after a commit whose answer was lost returns the stored item; a retried ``decide`` that
finds its own decision returns it.
"""

from __future__ import annotations

import builtins
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from guardrail.errors import GuardrailConfigError
from guardrail.review import _pg_schema as schema
from guardrail.review._filters import check_reviewer, items_from_rows, list_query, make_decision
from guardrail.review.errors import (
    AlreadyDecidedError,
    InvalidDecisionError,
    ItemClaimedError,
    ReviewItemNotFoundError,
    ReviewStoreError,
    ReviewTimeoutError,
)
from guardrail.review.export import write_items
from guardrail.review.models import ReviewItem, ReviewStatus, Verdict
from guardrail.review.store import ExportFormat, InvalidRowHandler, StatusFilter
from guardrail.storage.postgres import PostgresDatabase
from guardrail.storage.url import redact_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresReviewQueue"]


def _store_error(message: str, retryable: bool) -> ReviewStoreError:
    return ReviewStoreError(message, retryable=retryable)


def _check_enqueue(item: ReviewItem, dedupe_key: str | None) -> ReviewItem:
    if item.status is not ReviewStatus.PENDING:
        raise InvalidDecisionError(
            f"only pending items can be enqueued; {item.id!r} is {item.status.value}"
        )
    if dedupe_key is not None:
        if item.dedupe_key not in (None, dedupe_key):
            raise InvalidDecisionError(
                f"dedupe_key {dedupe_key!r} conflicts with the item's {item.dedupe_key!r}"
            )
        item = item.model_copy(update={"dedupe_key": dedupe_key})
    if item.claimed_by is not None or item.claimed_until is not None:
        item = item.model_copy(update={"claimed_by": None, "claimed_until": None})
    return item


_DECIDE = (
    b"UPDATE review_items SET status = %(status)s, verdict = %(verdict)s,"
    b" reviewer = %(reviewer)s, decided_at = %(decided)s, edited_answer = %(edited)s,"
    b" note = %(note)s, overrode_claim = CASE WHEN claimed_by IS NOT NULL"
    b" AND claimed_by <> %(reviewer)s AND claimed_until > now() THEN claimed_by END"
    b" WHERE id = %(id)s AND status = 'pending' AND (%(force)s OR claimed_by IS NULL"
    b" OR claimed_by = %(reviewer)s OR claimed_until IS NULL OR claimed_until <= now())"
    b" RETURNING *"
)


def _check_lease(lease_s: float, wait_s: float) -> None:
    if not lease_s > 0 or wait_s < 0:
        raise GuardrailConfigError(
            f"claim needs lease_s > 0 and wait_s >= 0, got {lease_s!r} and {wait_s!r}"
        )


class PostgresReviewQueue:
    """A :class:`~guardrail.review.store.ReviewStore` in a PostgreSQL database.

    ``url`` is a ``postgresql://`` URL. ``max_connections`` bounds this process's pool,
    ``retry_s`` how long a lost connection is retried. Safe to share between threads; after
    ``fork`` the child opens its own pool.
    """

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 4,
        retry_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._db = PostgresDatabase(
            url,
            what="review database",
            error=_store_error,
            min_size=1,
            max_size=max_connections,
            retry_s=retry_s,
            connect_timeout_s=connect_timeout_s,
        )
        try:
            self._db.migrate(schema.COMPONENT, schema.MIGRATIONS)
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={redact_url(self._db.url)!r})"

    def __enter__(self) -> PostgresReviewQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self._db.where

    def close(self) -> None:
        """Close the pool and the listener; further calls are an error."""
        self._db.close()

    # --------------------------------------------------------------------- writes
    def enqueue(self, item: ReviewItem, dedupe_key: str | None = None) -> ReviewItem:
        """Store a pending item; return it, or the already stored item with its key or id."""
        item = _check_enqueue(item, dedupe_key)
        params = schema.item_row(item)

        def insert(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
            if conn.execute(schema.INSERT_ITEM, params).fetchone() is not None:
                conn.execute("SELECT pg_notify(%s, %s)", (schema.CHANNEL, f"enqueued:{item.queue}"))
                return None
            row = None
            if item.dedupe_key is not None:
                row = conn.execute(
                    "SELECT * FROM review_items WHERE dedupe_key = %s", (item.dedupe_key,)
                ).fetchone()
            if row is None:
                row = conn.execute(
                    "SELECT * FROM review_items WHERE id = %s", (item.id,)
                ).fetchone()
            return row

        row = self._db.run(insert)
        if row is None:
            return item
        stored = schema.item_from_row(row)
        if stored.id == item.id and stored.dedupe_key == item.dedupe_key:
            return item  # our own insert, committed by an earlier try whose answer was lost
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
        """Record a final decision on a pending item and return the decided item.

        Refused with :class:`~guardrail.review.errors.ItemClaimedError` while another reviewer
        holds a live claim, unless ``force`` (see :meth:`ReviewStore.decide`).
        """
        decision = make_decision(verdict, reviewer, edited_answer, note)
        params = {
            "status": decision.verdict.status.value,
            "verdict": decision.verdict.value,
            "reviewer": decision.reviewer,
            "decided": decision.decided_at,
            "edited": decision.edited_answer,
            "note": decision.note,
            "id": item_id,
            "force": force,
        }
        tries = 0

        def update(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            nonlocal tries
            tries += 1
            # One conditional UPDATE: under READ COMMITTED a concurrent claim or decision makes
            # PostgreSQL re-check the WHERE clause on the newest row, so no claim slips by.
            updated = conn.execute(_DECIDE, params).fetchone()
            if updated is not None:
                conn.execute("SELECT pg_notify(%s, %s)", (schema.CHANNEL, f"decided:{item_id}"))
                return dict(updated)
            row = conn.execute("SELECT * FROM review_items WHERE id = %s", (item_id,)).fetchone()
            if row is None:
                raise ReviewItemNotFoundError(item_id, self.url)
            if row["status"] == ReviewStatus.PENDING.value:
                raise ItemClaimedError(item_id, row["claimed_by"], row["claimed_until"])
            mine = (
                tries > 1
                and row["verdict"] == decision.verdict.value
                and row["reviewer"] == decision.reviewer
                and row["decided_at"] == decision.decided_at
            )
            if mine:  # our earlier try committed before its connection broke
                return dict(row)
            raise AlreadyDecidedError(item_id, row["status"], row["reviewer"])

        return schema.item_from_row(self._db.run(update))

    def claim(
        self,
        reviewer: str,
        *,
        queue: str | None = None,
        lease_s: float = 900.0,
        wait_s: float = 0.0,
    ) -> ReviewItem | None:
        """Claim the oldest pending item that nobody holds (or whose claim lapsed).

        The claim lasts ``lease_s`` seconds; two reviewers never hold the same item. With
        ``wait_s`` the call waits that long for an item to be enqueued (woken by ``NOTIFY``).
        Returns ``None`` when there is nothing to claim.
        """
        _check_lease(lease_s, wait_s)
        check_reviewer(reviewer)
        if wait_s <= 0:
            return self._claim_once(reviewer, queue, lease_s)
        listener = self._db.listener(schema.CHANNEL)
        deadline = time.monotonic() + wait_s
        with listener.subscribe("enqueued:" + (queue or "")) as news:
            while True:
                news.arm()
                item = self._claim_once(reviewer, queue, lease_s)
                remaining = deadline - time.monotonic()
                if item is not None or remaining <= 0:
                    return item
                news.wait(remaining)

    def _claim_once(self, reviewer: str, queue: str | None, lease_s: float) -> ReviewItem | None:
        where = "" if queue is None else " AND queue = %(queue)s"
        sql = (
            "UPDATE review_items SET claimed_by = %(reviewer)s,"
            " claimed_until = now() + %(lease)s WHERE id = ("
            " SELECT id FROM review_items WHERE status = 'pending'"
            " AND (claimed_until IS NULL OR claimed_until <= now())" + where + ""
            " ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *"
        )
        params = {"reviewer": reviewer, "lease": timedelta(seconds=lease_s), "queue": queue}

        def claim(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
            return conn.execute(sql.encode(), params).fetchone()

        row = self._db.run(claim)
        return None if row is None else schema.item_from_row(row)

    def release(self, item_id: str, reviewer: str) -> ReviewItem:
        """Give back a claim ``reviewer`` holds, so that others can claim the item."""
        check_reviewer(reviewer)

        def release(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            row = conn.execute(
                "UPDATE review_items SET claimed_until = NULL WHERE id = %s AND claimed_by = %s"
                " RETURNING *",
                (item_id, reviewer),
            ).fetchone()
            if row is None:
                found = conn.execute(
                    "SELECT claimed_by FROM review_items WHERE id = %s", (item_id,)
                ).fetchone()
                if found is None:
                    raise ReviewItemNotFoundError(item_id, self.url)
                raise InvalidDecisionError(
                    f"review item {item_id!r} is claimed by {found['claimed_by']!r}, "
                    f"not {reviewer!r}"
                )
            conn.execute("SELECT pg_notify(%s, %s)", (schema.CHANNEL, f"enqueued:{row['queue']}"))
            return dict(row)

        return schema.item_from_row(self._db.run(release))

    # ---------------------------------------------------------------------- reads
    def get(self, item_id: str) -> ReviewItem:
        """The item with this id."""
        row = self._db.run(
            lambda conn: conn.execute(
                "SELECT * FROM review_items WHERE id = %s", (item_id,)
            ).fetchone()
        )
        if row is None:
            raise ReviewItemNotFoundError(item_id, self.url)
        return schema.item_from_row(row)

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

        Invalid rows are skipped and passed to ``on_invalid`` (default: a logged warning).
        """
        sql, params = list_query(
            status, queue, since, limit, "%s", created_column="created_at", created=lambda t: t
        )
        rows = self._db.run(lambda conn: conn.execute(sql.encode(), params).fetchall())
        return items_from_rows(rows, schema.item_from_row, on_invalid)

    def pending_counts(self) -> dict[str, int]:
        """How many items wait for a decision, per queue."""
        rows = self._db.run(
            lambda conn: conn.execute(
                "SELECT queue, count(*) AS n FROM review_items WHERE status = 'pending'"
                " GROUP BY queue"
            ).fetchall()
        )
        return {row["queue"]: int(row["n"]) for row in rows}

    def wait(self, item_id: str, timeout_s: float, poll_s: float = 0.5) -> ReviewItem:
        """Block until the item is decided (woken by ``NOTIFY``; ``poll_s`` is not used)."""
        if timeout_s < 0 or poll_s <= 0:
            raise GuardrailConfigError(
                f"wait needs timeout_s >= 0 and poll_s > 0, got {timeout_s!r} and {poll_s!r}"
            )
        deadline = time.monotonic() + timeout_s
        listener = self._db.listener(schema.CHANNEL)
        with listener.subscribe(f"decided:{item_id}") as news:
            while True:
                news.arm()
                item = self.get(item_id)
                if item.decision is not None:
                    return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ReviewTimeoutError(item_id, timeout_s)
                news.wait(remaining)

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
        """Write the matching items to ``out`` as JSON lines or CSV; return the count.

        Invalid rows are skipped and reported as by :meth:`list`.
        """
        items = self.list(status=status, queue=queue, since=since, on_invalid=on_invalid)
        return write_items(items, out, format)
