"""The SQLite schema of the review queue (component ``review`` in ``guardrail_schema``)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from guardrail.review._sqlite import dumps, from_us, to_us
from guardrail.review.errors import ROW_ERRORS, invalid_row
from guardrail.review.models import ReviewDecision, ReviewItem, ReviewStatus, Verdict

COMPONENT = "review"

_V1 = """
CREATE TABLE review_items (
    id            TEXT PRIMARY KEY,
    dedupe_key    TEXT UNIQUE,
    created_us    INTEGER NOT NULL,
    status        TEXT NOT NULL
                  CHECK (status IN ('pending', 'approved', 'edited', 'rejected')),
    queue         TEXT NOT NULL,
    question      TEXT NOT NULL,
    answer        TEXT NOT NULL,
    partial       INTEGER NOT NULL CHECK (partial IN (0, 1)),
    confidence    REAL,
    rule          TEXT,
    model         TEXT,
    run_id        TEXT,
    events        TEXT NOT NULL CHECK (json_valid(events)),
    attempts      TEXT NOT NULL CHECK (json_valid(attempts)),
    metadata      TEXT NOT NULL CHECK (json_valid(metadata)),
    verdict       TEXT CHECK (verdict IN ('approve', 'edit', 'reject')),
    reviewer      TEXT,
    decided_us    INTEGER,
    edited_answer TEXT,
    note          TEXT,
    CHECK ((status = 'pending') = (verdict IS NULL))
);
CREATE INDEX review_items_created ON review_items (created_us);
CREATE INDEX review_items_status ON review_items (status, created_us);
CREATE INDEX review_items_queue ON review_items (queue, created_us);
"""
_V2 = """
ALTER TABLE review_items ADD COLUMN claimed_by TEXT;
ALTER TABLE review_items ADD COLUMN claimed_until_us INTEGER;
"""
_V3 = """
ALTER TABLE review_items ADD COLUMN overrode_claim TEXT;
"""
MIGRATIONS = (_V1, _V2, _V3)
"""``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1`` (2: reviewer claims,
3: the claim a forced decision overrode)."""
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "id, dedupe_key, created_us, status, queue, question, answer, partial, confidence, rule,"
    " model, run_id, events, attempts, metadata"
)
INSERT_ITEM = (
    f"INSERT INTO review_items ({_COLUMNS}) VALUES ({', '.join('?' * 15)}) ON CONFLICT DO NOTHING"
)


def item_row(item: ReviewItem) -> tuple[Any, ...]:
    """The insert parameters of a pending item, in ``INSERT_ITEM`` order."""
    return (
        item.id,
        item.dedupe_key,
        to_us(item.created_at),
        item.status.value,
        item.queue,
        item.question,
        item.answer,
        int(item.partial),
        item.confidence,
        item.rule,
        item.model,
        item.run_id,
        dumps(item.events),
        dumps([attempt.model_dump(mode="json") for attempt in item.attempts]),
        dumps(item.metadata),
    )


class Undecodable:
    """A TEXT value that is not valid UTF-8 (see :func:`decode_text`); never a valid field."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return f"<undecodable text {self.raw[:40]!r}>"


def decode_text(raw: bytes) -> str | Undecodable:
    """SQLite's TEXT as ``str``, or :class:`Undecodable` for invalid UTF-8.

    A connection's ``text_factory``: one bad row then fails on its own instead of aborting the
    whole ``fetchall``.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return Undecodable(raw)


def item_from_row(row: sqlite3.Row) -> ReviewItem:
    """Rebuild an item from a ``SELECT *`` row; ``InvalidRowError`` for invalid contents."""
    try:
        return _item_from_row(row)
    except ROW_ERRORS as exc:
        raise invalid_row(_row_id(row), exc) from exc


def _row_id(row: sqlite3.Row) -> object:
    try:
        return row["id"]
    except (IndexError, KeyError):
        return None


def _item_from_row(row: sqlite3.Row) -> ReviewItem:
    decision = None
    if row["verdict"] is not None:
        decision = ReviewDecision(
            verdict=Verdict(row["verdict"]),
            reviewer=row["reviewer"],
            decided_at=from_us(row["decided_us"]),
            edited_answer=row["edited_answer"],
            note=row["note"],
            overrode_claim=row["overrode_claim"],
        )
    return ReviewItem(
        id=row["id"],
        created_at=from_us(row["created_us"]),
        status=ReviewStatus(row["status"]),
        queue=row["queue"],
        question=row["question"],
        answer=row["answer"],
        partial=bool(row["partial"]),
        events=json.loads(row["events"]),
        confidence=row["confidence"],
        rule=row["rule"],
        model=row["model"],
        run_id=row["run_id"],
        attempts=json.loads(row["attempts"]),
        metadata=json.loads(row["metadata"]),
        dedupe_key=row["dedupe_key"],
        decision=decision,
        claimed_by=row["claimed_by"],
        claimed_until=None if row["claimed_until_us"] is None else from_us(row["claimed_until_us"]),
    )
