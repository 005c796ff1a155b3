"""The PostgreSQL schema of the review queue (component ``review`` in ``guardrail_schema``).

``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``; the versions match the
SQLite schema's (1: the items, 2: reviewer claims, 3: the claim a forced decision overrode).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guardrail.review.errors import ROW_ERRORS, invalid_row
from guardrail.review.models import ReviewDecision, ReviewItem, ReviewStatus, Verdict

COMPONENT = "review"
CHANNEL = "guardrail_review"

MIGRATIONS = (
    """
    CREATE TABLE review_items (
        id            text PRIMARY KEY,
        dedupe_key    text UNIQUE,
        created_at    timestamptz NOT NULL,
        status        text NOT NULL
                      CHECK (status IN ('pending', 'approved', 'edited', 'rejected')),
        queue         text NOT NULL,
        question      text NOT NULL,
        answer        text NOT NULL,
        partial       boolean NOT NULL,
        confidence    double precision,
        rule          text,
        model         text,
        run_id        text,
        events        jsonb NOT NULL,
        attempts      jsonb NOT NULL,
        metadata      jsonb NOT NULL,
        verdict       text CHECK (verdict IN ('approve', 'edit', 'reject')),
        reviewer      text,
        decided_at    timestamptz,
        edited_answer text,
        note          text,
        CHECK ((status = 'pending') = (verdict IS NULL))
    );
    CREATE INDEX review_items_created ON review_items (created_at, id);
    CREATE INDEX review_items_status ON review_items (status, created_at, id);
    CREATE INDEX review_items_queue ON review_items (queue, created_at, id)
    """,
    """
    ALTER TABLE review_items ADD COLUMN claimed_by text;
    ALTER TABLE review_items ADD COLUMN claimed_until timestamptz;
    CREATE INDEX review_items_pending ON review_items (created_at, id) WHERE status = 'pending'
    """,
    """
    ALTER TABLE review_items ADD COLUMN overrode_claim text
    """,
)

_COLUMNS = (
    "id",
    "dedupe_key",
    "created_at",
    "status",
    "queue",
    "question",
    "answer",
    "partial",
    "confidence",
    "rule",
    "model",
    "run_id",
    "events",
    "attempts",
    "metadata",
)
INSERT_ITEM = (
    f"INSERT INTO review_items ({', '.join(_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING id"
)


def item_row(item: ReviewItem) -> tuple[Any, ...]:
    """The insert parameters of a pending item, in ``INSERT_ITEM`` order."""
    from psycopg.types.json import Jsonb

    from guardrail.review._sqlite import dumps

    return (
        item.id,
        item.dedupe_key,
        item.created_at,
        item.status.value,
        item.queue,
        item.question,
        item.answer,
        item.partial,
        item.confidence,
        item.rule,
        item.model,
        item.run_id,
        Jsonb(item.events, dumps=dumps),
        Jsonb([attempt.model_dump(mode="json") for attempt in item.attempts], dumps=dumps),
        Jsonb(item.metadata, dumps=dumps),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def item_from_row(row: dict[str, Any]) -> ReviewItem:
    """Rebuild an item from a ``SELECT *`` row (a dict row); ``InvalidRowError`` if invalid."""
    try:
        return _item_from_row(row)
    except ROW_ERRORS as exc:
        raise invalid_row(row.get("id"), exc) from exc


def _item_from_row(row: dict[str, Any]) -> ReviewItem:
    decision = None
    if row["verdict"] is not None:
        decision = ReviewDecision(
            verdict=Verdict(row["verdict"]),
            reviewer=row["reviewer"],
            decided_at=row["decided_at"].astimezone(UTC),
            edited_answer=row["edited_answer"],
            note=row["note"],
            overrode_claim=row["overrode_claim"],
        )
    return ReviewItem(
        id=row["id"],
        created_at=row["created_at"].astimezone(UTC),
        status=ReviewStatus(row["status"]),
        queue=row["queue"],
        question=row["question"],
        answer=row["answer"],
        partial=row["partial"],
        events=row["events"],
        confidence=row["confidence"],
        rule=row["rule"],
        model=row["model"],
        run_id=row["run_id"],
        attempts=row["attempts"],
        metadata=row["metadata"],
        dedupe_key=row["dedupe_key"],
        decision=decision,
        claimed_by=row["claimed_by"],
        claimed_until=_utc(row["claimed_until"]),
    )
