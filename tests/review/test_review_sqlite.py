"""SQLite-only behaviour of the review queue (the shared suite is test_review_store.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.review import (
    ReviewItem,
    ReviewStoreError,
    SQLiteReviewQueue,
    _schema,
    default_review_db_path,
)

MakeItem = Callable[..., ReviewItem]


def test_database_is_wal_with_a_schema_version(
    sqlite_store: SQLiteReviewQueue, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT component, version FROM guardrail_schema").fetchall()
    conn.close()
    assert rows == [("review", _schema.SCHEMA_VERSION)]
    assert sqlite_store.integrity_check() == "ok"


def test_default_path_respects_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GUARDRAIL_REVIEW_DB", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_review_db_path() == tmp_path / "xdg" / "guardrail" / "review.db"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_review_db_path() == tmp_path / "home" / ".cache" / "guardrail" / "review.db"
    monkeypatch.setenv("GUARDRAIL_REVIEW_DB", str(tmp_path / "env.db"))
    assert default_review_db_path() == tmp_path / "env.db"
    with SQLiteReviewQueue() as queue:
        assert queue.path == tmp_path / "env.db"
    assert (tmp_path / "env.db").exists()


def test_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(GuardrailConfigError, match="no review database"):
        SQLiteReviewQueue(tmp_path / "missing.db", create=False)
    with pytest.raises(GuardrailConfigError, match="file path"):
        SQLiteReviewQueue(":memory:")
    with pytest.raises(GuardrailConfigError):
        SQLiteReviewQueue(tmp_path / "x.db", busy_timeout_s=0)


def test_newer_schema_is_refused(db_path: Path) -> None:
    SQLiteReviewQueue(db_path).close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE guardrail_schema SET version = 99 WHERE component = 'review'")
    conn.close()
    with pytest.raises(GuardrailConfigError, match="newer"):
        SQLiteReviewQueue(db_path)


def test_closed_queue_and_corrupt_file(tmp_path: Path, make_item: MakeItem) -> None:
    queue = SQLiteReviewQueue(tmp_path / "q.db")
    queue.close()
    with pytest.raises(ReviewStoreError, match="closed"):
        queue.get("x")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ReviewStoreError) as info:
        SQLiteReviewQueue(junk)
    assert not info.value.is_retryable


def test_a_writer_holding_the_lock_too_long_is_a_retryable_error(
    db_path: Path, make_item: MakeItem
) -> None:
    SQLiteReviewQueue(db_path).close()
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        queue = SQLiteReviewQueue(db_path, busy_timeout_s=0.1)
        with pytest.raises(ReviewStoreError, match="locked") as info:
            queue.enqueue(make_item())
        assert info.value.is_retryable
        assert queue.list() == []  # readers are not blocked by a writer in WAL mode
        blocker.execute("ROLLBACK")
        queue.enqueue(make_item())
        assert len(queue.list()) == 1
    finally:
        blocker.close()


def test_a_version_1_database_is_migrated_on_first_use(db_path: Path, make_item: MakeItem) -> None:
    conn = sqlite3.connect(db_path)
    with conn:
        conn.executescript(_schema.MIGRATIONS[0])
        conn.execute("CREATE TABLE guardrail_schema (component TEXT PRIMARY KEY, version INTEGER)")
        conn.execute("INSERT INTO guardrail_schema VALUES ('review', 1)")
        conn.execute(_schema.INSERT_ITEM, _schema.item_row(make_item(id="old")))
    conn.close()
    with SQLiteReviewQueue(db_path) as queue:
        assert queue.get("old").claimed_by is None
        assert queue.claim("ann") is not None
        assert queue.get("old").claimed_by == "ann"
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT version FROM guardrail_schema").fetchall() == [
        (_schema.SCHEMA_VERSION,)
    ]
    conn.close()
