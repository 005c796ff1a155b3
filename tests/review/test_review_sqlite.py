from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError
from guardrail.review import (
    AlreadyDecidedError,
    InvalidDecisionError,
    ReviewDecision,
    ReviewItem,
    ReviewItemNotFoundError,
    ReviewStatus,
    ReviewStore,
    ReviewStoreError,
    ReviewTimeoutError,
    SQLiteReviewQueue,
    default_review_db_path,
)

MakeItem = Callable[..., ReviewItem]


def test_implements_the_store_protocol(store: SQLiteReviewQueue) -> None:
    assert isinstance(store, ReviewStore)


def test_database_is_wal_with_a_schema_version(store: SQLiteReviewQueue, db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT component, version FROM guardrail_schema").fetchall()
    conn.close()
    assert rows == [("review", 1)]
    assert store.integrity_check() == "ok"


def test_round_trip_keeps_every_field(store: SQLiteReviewQueue, make_item: MakeItem) -> None:
    item = make_item(
        queue="finance",
        partial=True,
        run_id="run-1",
        attempts=[{"attempt": 1, "answer": "first", "confidence": 0.1, "action": "retry"}],
        metadata={"user": "u1", "tags": ["a", "b"], "nested": {"x": 1.5}},
    )
    assert store.enqueue(item) == item
    assert store.get(item.id) == item


def test_enqueue_is_idempotent_on_the_dedupe_key(
    store: SQLiteReviewQueue, make_item: MakeItem
) -> None:
    first = store.enqueue(make_item(), dedupe_key="run-7")
    second = store.enqueue(make_item(), dedupe_key="run-7")
    assert second == first
    assert second.dedupe_key == "run-7"
    assert store.enqueue(first) == first  # same id: no second row either
    assert [i.id for i in store.list()] == [first.id]
    other = store.enqueue(make_item(dedupe_key="run-8"))
    assert len(store.list()) == 2
    assert store.enqueue(make_item(), dedupe_key="run-8") == other


def test_enqueue_refuses_decided_items_and_conflicting_keys(
    store: SQLiteReviewQueue, make_item: MakeItem
) -> None:
    decided = make_item().decided(ReviewDecision(verdict="approve", reviewer="ann"))
    with pytest.raises(InvalidDecisionError, match="only pending"):
        store.enqueue(decided)
    with pytest.raises(InvalidDecisionError, match="conflicts"):
        store.enqueue(make_item(dedupe_key="a"), dedupe_key="b")


def test_approve_reject_and_edit(store: SQLiteReviewQueue, make_item: MakeItem) -> None:
    a, r, e = (store.enqueue(make_item()) for _ in range(3))
    approved = store.decide(a.id, "approve", "ann", note="fine")
    assert approved.status is ReviewStatus.APPROVED
    assert approved.decision is not None
    assert approved.decision.reviewer == "ann"
    assert approved.decision.note == "fine"
    assert approved.final_answer == a.answer
    rejected = store.decide(r.id, "reject", "bob")
    assert rejected.final_answer is None
    edited = store.decide(e.id, "edit", "cy", edited_answer="Four.")
    assert edited.final_answer == "Four."
    assert store.get(e.id) == edited
    assert edited.decision is not None
    assert edited.decision.decided_at >= e.created_at


def test_decisions_are_final_and_checked(store: SQLiteReviewQueue, make_item: MakeItem) -> None:
    item = store.enqueue(make_item())
    with pytest.raises(InvalidDecisionError, match="requires edited_answer"):
        store.decide(item.id, "edit", "ann")
    with pytest.raises(InvalidDecisionError, match="only allowed"):
        store.decide(item.id, "approve", "ann", edited_answer="x")
    with pytest.raises(InvalidDecisionError, match="unknown verdict"):
        store.decide(item.id, "maybe", "ann")
    with pytest.raises(InvalidDecisionError, match="reviewer"):
        store.decide(item.id, "approve", "  ")
    assert store.get(item.id).status is ReviewStatus.PENDING
    store.decide(item.id, "reject", "ann")
    with pytest.raises(AlreadyDecidedError, match="already rejected by 'ann'") as info:
        store.decide(item.id, "approve", "bob")
    assert isinstance(info.value, GuardrailRuntimeError)
    assert not info.value.is_retryable
    assert store.get(item.id).status is ReviewStatus.REJECTED


def test_unknown_ids(store: SQLiteReviewQueue) -> None:
    with pytest.raises(ReviewItemNotFoundError, match="'nope'"):
        store.get("nope")
    with pytest.raises(ReviewItemNotFoundError):
        store.decide("nope", "approve", "ann")
    with pytest.raises(ReviewItemNotFoundError):
        store.wait("nope", timeout_s=1, poll_s=0.01)


def test_list_filters(store: SQLiteReviewQueue, make_item: MakeItem) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    items = [
        store.enqueue(make_item(queue=q, created_at=start + timedelta(minutes=i)))
        for i, q in enumerate(["a", "b", "a", "b", "a"])
    ]
    store.decide(items[0].id, "approve", "ann")
    store.decide(items[1].id, "reject", "ann")
    ids = [i.id for i in items]
    assert [i.id for i in store.list()] == ids
    assert [i.id for i in store.list(status="pending")] == ids[2:]
    assert [i.id for i in store.list(status=["approved", ReviewStatus.REJECTED])] == ids[:2]
    assert [i.id for i in store.list(queue="a")] == [ids[0], ids[2], ids[4]]
    assert [i.id for i in store.list(queue="a", status="pending")] == [ids[2], ids[4]]
    assert [i.id for i in store.list(since=start + timedelta(minutes=3))] == ids[3:]
    assert [i.id for i in store.list(limit=2)] == ids[:2]
    assert store.list(limit=0) == []
    with pytest.raises(GuardrailConfigError, match="unknown review status"):
        store.list(status="done")
    with pytest.raises(GuardrailConfigError, match="timezone-aware"):
        store.list(since=datetime(2025, 1, 1))
    with pytest.raises(GuardrailConfigError):
        store.list(limit=-1)


def test_export_jsonl_and_csv(store: SQLiteReviewQueue, make_item: MakeItem) -> None:
    first = store.enqueue(make_item(question='Say "hi",\nplease', metadata={"k": "v"}))
    second = store.enqueue(make_item())
    store.decide(second.id, "edit", "ann", edited_answer="edited, with comma")
    out = io.StringIO()
    assert store.export(out) == 2
    lines = out.getvalue().splitlines()
    assert [ReviewItem.model_validate_json(line).id for line in lines] == [first.id, second.id]
    out = io.StringIO()
    assert store.export(out, format="csv", status="edited") == 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 1
    assert rows[0]["id"] == second.id
    assert rows[0]["verdict"] == "edit"
    assert rows[0]["edited_answer"] == "edited, with comma"
    assert json.loads(rows[0]["events"])[0]["stage"] == "process"
    out = io.StringIO()
    store.export(out, format="csv", status="pending")
    assert next(csv.DictReader(io.StringIO(out.getvalue())))["question"] == 'Say "hi",\nplease'
    with pytest.raises(GuardrailConfigError, match="unknown export format"):
        store.export(io.StringIO(), format="xml")  # type: ignore[arg-type]


def test_wait_returns_once_another_thread_decides(
    store: SQLiteReviewQueue, make_item: MakeItem
) -> None:
    item = store.enqueue(make_item())

    def decide_later() -> None:
        time.sleep(0.2)
        store.decide(item.id, "approve", "ann")

    thread = threading.Thread(target=decide_later)
    thread.start()
    try:
        decided = store.wait(item.id, timeout_s=10, poll_s=0.02)
    finally:
        thread.join()
    assert decided.status is ReviewStatus.APPROVED


def test_wait_times_out(store: SQLiteReviewQueue, make_item: MakeItem) -> None:
    item = store.enqueue(make_item())
    began = time.monotonic()
    with pytest.raises(ReviewTimeoutError) as info:
        store.wait(item.id, timeout_s=0.1, poll_s=0.02)
    assert time.monotonic() - began < 5
    assert info.value.is_retryable
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(GuardrailConfigError):
        store.wait(item.id, timeout_s=1, poll_s=0)


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
