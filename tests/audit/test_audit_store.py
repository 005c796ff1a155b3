"""The audit log suite, run against SQLite, PostgreSQL and JSON lines alike (fixture ``log``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardrail.audit import (
    REDACTED,
    AuditKind,
    AuditLog,
    JsonlAuditLog,
    PostgresAuditLog,
    SQLiteAuditLog,
    open_audit_log,
)
from guardrail.errors import GuardrailConfigError
from guardrail.review import ReviewItem, open_review_store

TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


@pytest.fixture(params=["sqlite", "postgres", "jsonl"])
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.log'}"  # a URL: no .db suffix needed
    if request.param == "jsonl":
        return str(tmp_path / "audit.jsonl")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def log(audit_url: str) -> Iterator[AuditLog]:
    opened = open_audit_log(audit_url)
    try:
        yield opened
    finally:
        opened.close()


def test_the_url_picks_the_backend(log: AuditLog, audit_url: str) -> None:
    expected = {"sqlite": SQLiteAuditLog, "postgresql": PostgresAuditLog}
    kind = audit_url.split(":", 1)[0]
    assert isinstance(log, expected.get(kind, JsonlAuditLog))
    assert isinstance(log, AuditLog)


def test_record_read_and_tail(log: AuditLog) -> None:
    first = log.record(
        "decision",
        "run-1",
        {"password": "hunter2", "action": "abort", "nested": {"x": [1, 2.5]}},
        policy="p",
        policy_version="1.2",
        duration_s=0.25,
        trace_id=TRACE,
        span_id=SPAN,
    )
    log.record("action", "run-2", {"i": 1})
    log.record("run_end", "run-1", elapsed_s=1.0)
    assert first.payload["password"] == REDACTED
    run = log.read_run("run-1")
    assert run[0] == first
    assert (run[0].trace_id, run[0].span_id) == (TRACE, SPAN)
    assert run[1].trace_id is None
    assert [r.kind for r in run] == [AuditKind.DECISION, AuditKind.RUN_END]
    assert [r.run_id for r in log.tail(2)] == ["run-2", "run-1"]
    assert log.tail(0) == []
    assert log.read_run("nope") == []
    with pytest.raises(GuardrailConfigError):
        log.tail(-1)
    with pytest.raises(GuardrailConfigError, match="trace_id"):
        log.record("action", "run-3", trace_id="not-hex")


def test_concurrent_threads(log: AuditLog) -> None:
    def write(worker: int) -> None:
        for i in range(30):
            log.record("checkpoint", f"w{worker}", {"i": i})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in range(4):
        assert [r.payload["i"] for r in log.read_run(f"w{worker}")] == list(range(30))


def test_postgres_shares_the_review_database(postgres_url: str) -> None:
    with open_review_store(postgres_url) as queue, PostgresAuditLog(postgres_url) as log:
        item = queue.enqueue(ReviewItem(question="q", run_id="run-1"))
        log.record("action", "run-1", {"item_id": item.id})
        assert log.read_run("run-1")[0].payload == {"item_id": item.id}
