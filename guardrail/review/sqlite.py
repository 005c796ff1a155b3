"""The review queue in an SQLite file: durable, shared by threads and processes.

The database runs in WAL mode; every write is one ``BEGIN IMMEDIATE`` transaction, and each
operation opens and closes its own connection, so an instance is safe to share between threads
and across ``fork``. Enqueue is idempotent through a ``UNIQUE`` dedupe key, so several processes
may enqueue the same item and exactly one row results. A writer killed with ``SIGKILL`` loses
nothing it committed: SQLite replays or discards the WAL on the next open.
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from guardrail.errors import GuardrailConfigError
from guardrail.review import _schema, _sqlite
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
from guardrail.review.store import (
    ENV_REVIEW_DB,
    ExportFormat,
    InvalidRowHandler,
    StatusFilter,
    default_review_db_path,
)

__all__ = ["SQLiteReviewQueue"]


class SQLiteReviewQueue:
    """A :class:`~guardrail.review.store.ReviewStore` in one SQLite file.

    ``path`` defaults to :func:`~guardrail.review.store.default_review_db_path`. With
    ``create=False`` a missing file is a :class:`~guardrail.errors.GuardrailConfigError` instead
    of a new, empty queue. A write waits up to ``busy_timeout_s`` for another writer's lock,
    then fails with a retryable :class:`~guardrail.review.errors.ReviewStoreError`.
    ``synchronous="FULL"`` also survives power loss; ``"NORMAL"`` only process crashes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        busy_timeout_s: float = 30.0,
        synchronous: _sqlite.Synchronous = "FULL",
    ) -> None:
        if busy_timeout_s <= 0:
            raise GuardrailConfigError(f"busy_timeout_s must be > 0, got {busy_timeout_s!r}")
        if synchronous not in ("NORMAL", "FULL"):
            raise GuardrailConfigError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self._path = _sqlite.resolve_path(
            default_review_db_path() if path is None else path,
            create=create,
            what="review database",
            env=ENV_REVIEW_DB,
        )
        self._busy_timeout_s = busy_timeout_s
        self._synchronous: _sqlite.Synchronous = synchronous
        self._closed = False
        with self._errors():
            _sqlite.prepare(self._path, busy_timeout_s, _schema.COMPONENT, _schema.MIGRATIONS)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self._path)!r})"

    def __enter__(self) -> SQLiteReviewQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Refuse further calls. No connection outlives an operation, so nothing else is held."""
        self._closed = True

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise ReviewStoreError(
                f"review database {self._path}: {exc}", retryable=_sqlite.is_busy(exc)
            ) from exc

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise ReviewStoreError(f"{self!r} is closed")
        with (
            self._errors(),
            _sqlite.connection(self._path, self._busy_timeout_s, self._synchronous) as conn,
        ):
            conn.text_factory = _schema.decode_text
            if write:
                with _sqlite.transaction(conn):
                    yield conn
            else:
                yield conn

    def enqueue(self, item: ReviewItem, dedupe_key: str | None = None) -> ReviewItem:
        """Store a pending item; return it, or the already stored item with its key or id."""
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
        with self._connect(write=True) as conn:
            if conn.execute(_schema.INSERT_ITEM, _schema.item_row(item)).rowcount == 1:
                return item
            row = None
            if item.dedupe_key is not None:
                row = conn.execute(
                    "SELECT * FROM review_items WHERE dedupe_key = ?", (item.dedupe_key,)
                ).fetchone()
            if row is None:
                row = conn.execute("SELECT * FROM review_items WHERE id = ?", (item.id,)).fetchone()
        return _schema.item_from_row(row)

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
        now = _sqlite.to_us(datetime.now(UTC))
        with self._connect(write=True) as conn:
            # One conditional UPDATE: the claim is checked by the statement that writes.
            updated = conn.execute(
                "UPDATE review_items SET status = :status, verdict = :verdict,"
                " reviewer = :reviewer, decided_us = :decided, edited_answer = :edited,"
                " note = :note, overrode_claim = CASE WHEN claimed_by IS NOT NULL"
                " AND claimed_by != :reviewer AND claimed_until_us > :now THEN claimed_by END"
                " WHERE id = :id AND status = 'pending' AND (:force OR claimed_by IS NULL"
                " OR claimed_by = :reviewer OR claimed_until_us IS NULL"
                " OR claimed_until_us <= :now)",
                {
                    "status": decision.verdict.status.value,
                    "verdict": decision.verdict.value,
                    "reviewer": decision.reviewer,
                    "decided": _sqlite.to_us(decision.decided_at),
                    "edited": decision.edited_answer,
                    "note": decision.note,
                    "now": now,
                    "id": item_id,
                    "force": int(force),
                },
            ).rowcount
            row = conn.execute("SELECT * FROM review_items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise ReviewItemNotFoundError(item_id, str(self._path))
        if updated != 1:
            if row["status"] != ReviewStatus.PENDING.value:
                raise AlreadyDecidedError(item_id, row["status"], row["reviewer"])
            until = row["claimed_until_us"]
            raise ItemClaimedError(
                item_id, row["claimed_by"], None if until is None else _sqlite.from_us(until)
            )
        return _schema.item_from_row(row)

    def claim(
        self,
        reviewer: str,
        *,
        queue: str | None = None,
        lease_s: float = 900.0,
        wait_s: float = 0.0,
        poll_s: float = 0.5,
    ) -> ReviewItem | None:
        """Claim the oldest pending item that nobody holds (or whose claim lapsed).

        The claim lasts ``lease_s`` seconds; two reviewers never hold the same item (claims
        are ``BEGIN IMMEDIATE`` transactions). With ``wait_s`` the call polls every ``poll_s``
        for that long. Returns ``None`` when there is nothing to claim.
        """
        if not lease_s > 0 or wait_s < 0 or poll_s <= 0:
            raise GuardrailConfigError(
                f"claim needs lease_s > 0, wait_s >= 0 and poll_s > 0, "
                f"got {lease_s!r}, {wait_s!r} and {poll_s!r}"
            )
        check_reviewer(reviewer)
        deadline = time.monotonic() + wait_s
        while True:
            item = self._claim_once(reviewer, queue, lease_s)
            remaining = deadline - time.monotonic()
            if item is not None or remaining <= 0:
                return item
            time.sleep(min(poll_s, remaining))

    def _claim_once(self, reviewer: str, queue: str | None, lease_s: float) -> ReviewItem | None:
        now = _sqlite.to_us(datetime.now(UTC))
        sql = (
            "SELECT id FROM review_items WHERE status = 'pending'"
            " AND (claimed_until_us IS NULL OR claimed_until_us <= ?)"
        )
        params: builtins.list[Any] = [now]
        if queue is not None:
            sql += " AND queue = ?"
            params.append(queue)
        with self._connect(write=True) as conn:
            row = conn.execute(sql + " ORDER BY created_us, id LIMIT 1", params).fetchone()
            if row is None:
                return None
            until = now + round(lease_s * 1_000_000)
            conn.execute(
                "UPDATE review_items SET claimed_by = ?, claimed_until_us = ? WHERE id = ?",
                (reviewer, until, row["id"]),
            )
            row = conn.execute("SELECT * FROM review_items WHERE id = ?", (row["id"],)).fetchone()
        return _schema.item_from_row(row)

    def release(self, item_id: str, reviewer: str) -> ReviewItem:
        """Give back a claim ``reviewer`` holds, so that others can claim the item."""
        check_reviewer(reviewer)
        with self._connect(write=True) as conn:
            row = conn.execute(
                "SELECT claimed_by FROM review_items WHERE id = ?", (item_id,)
            ).fetchone()
            if row is None:
                raise ReviewItemNotFoundError(item_id, str(self._path))
            if row["claimed_by"] != reviewer:
                raise InvalidDecisionError(
                    f"review item {item_id!r} is claimed by {row['claimed_by']!r}, not {reviewer!r}"
                )
            conn.execute("UPDATE review_items SET claimed_until_us = NULL WHERE id = ?", (item_id,))
            row = conn.execute("SELECT * FROM review_items WHERE id = ?", (item_id,)).fetchone()
        return _schema.item_from_row(row)

    def pending_counts(self) -> dict[str, int]:
        """How many items wait for a decision, per queue."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT queue, count(*) FROM review_items WHERE status = 'pending' GROUP BY queue"
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def get(self, item_id: str) -> ReviewItem:
        """The item with this id."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM review_items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise ReviewItemNotFoundError(item_id, str(self._path))
        return _schema.item_from_row(row)

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
            status, queue, since, limit, "?", created_column="created_us", created=_sqlite.to_us
        )
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        return items_from_rows(rows, _schema.item_from_row, on_invalid)

    def wait(self, item_id: str, timeout_s: float, poll_s: float = 0.5) -> ReviewItem:
        """Poll every ``poll_s`` until the item is decided; raise after ``timeout_s``."""
        if timeout_s < 0 or poll_s <= 0:
            raise GuardrailConfigError(
                f"wait needs timeout_s >= 0 and poll_s > 0, got {timeout_s!r} and {poll_s!r}"
            )
        deadline = time.monotonic() + timeout_s
        while True:
            item = self.get(item_id)
            if item.decision is not None:
                return item
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReviewTimeoutError(item_id, timeout_s)
            time.sleep(min(poll_s, remaining))

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

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` verdict (``"ok"`` for a sound file)."""
        with self._connect() as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)
