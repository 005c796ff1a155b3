from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from guardrail.audit import REDACTED, AuditKind, AuditLog, AuditWriteError, SQLiteAuditLog
from guardrail.review import ReviewItem, SQLiteReviewQueue
from guardrail.review import _schema as review_schema


def test_record_read_and_tail(tmp_path: Path) -> None:
    with SQLiteAuditLog(tmp_path / "audit.db") as log:
        assert isinstance(log, AuditLog)
        first = log.record(
            "decision",
            "run-1",
            {"password": "hunter2", "action": "abort"},
            policy="p",
            policy_version="1.2",
            duration_s=0.25,
        )
        log.record("action", "run-2", {"i": 1})
        log.record("run_end", "run-1", elapsed_s=1.0)
        assert first.payload == {"password": REDACTED, "action": "abort"}
        run = log.read_run("run-1")
        assert run[0] == first
        assert [r.kind for r in run] == [AuditKind.DECISION, AuditKind.RUN_END]
        assert [r.run_id for r in log.tail(2)] == ["run-2", "run-1"]
        assert log.tail(0) == []
        assert log.read_run("nope") == []
    conn = sqlite3.connect(tmp_path / "audit.db")
    try:
        assert "hunter2" not in str(conn.execute("SELECT payload FROM audit_records").fetchall())
    finally:
        conn.close()


def test_shares_the_review_database(tmp_path: Path) -> None:
    path = tmp_path / "guardrail.db"
    queue = SQLiteReviewQueue(path)
    log = SQLiteAuditLog(path)
    item = queue.enqueue(ReviewItem(question="q", run_id="run-1"))
    log.record("action", "run-1", {"item_id": item.id})
    assert SQLiteReviewQueue(path).get(item.id) == item
    assert SQLiteAuditLog(path).read_run("run-1")[0].payload == {"item_id": item.id}
    conn = sqlite3.connect(path)
    try:
        versions = dict(conn.execute("SELECT component, version FROM guardrail_schema"))
    finally:
        conn.close()
    assert versions == {"review": review_schema.SCHEMA_VERSION, "audit": 2}


def test_concurrent_threads(tmp_path: Path) -> None:
    log = SQLiteAuditLog(tmp_path / "audit.db")

    def write(worker: int) -> None:
        for i in range(40):
            log.record("checkpoint", f"w{worker}", {"i": i})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in range(4):
        assert [r.payload["i"] for r in log.read_run(f"w{worker}")] == list(range(40))


def test_locked_database_is_a_retryable_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = SQLiteAuditLog(path, busy_timeout_s=0.1)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(AuditWriteError) as info:
            log.record("action", "r")
        assert info.value.is_retryable
    finally:
        blocker.close()
