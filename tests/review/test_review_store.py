"""The review store suite, run against SQLite and PostgreSQL alike (fixture ``store``)."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
    ReviewTimeoutError,
)

MakeItem = Callable[..., ReviewItem]


def test_implements_the_store_protocol(store: ReviewStore) -> None:
    assert isinstance(store, ReviewStore)


def test_round_trip_keeps_every_field(store: ReviewStore, make_item: MakeItem) -> None:
    item = make_item(
        queue="finance",
        partial=True,
        run_id="run-1",
        attempts=[{"attempt": 1, "answer": "first", "confidence": 0.1, "action": "retry"}],
        metadata={"user": "u1", "tags": ["a", "b"], "nested": {"x": 1.5}},
    )
    assert store.enqueue(item) == item
    assert store.get(item.id) == item


def test_enqueue_is_idempotent_on_the_dedupe_key(store: ReviewStore, make_item: MakeItem) -> None:
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
    store: ReviewStore, make_item: MakeItem
) -> None:
    decided = make_item().decided(ReviewDecision(verdict="approve", reviewer="ann"))
    with pytest.raises(InvalidDecisionError, match="only pending"):
        store.enqueue(decided)
    with pytest.raises(InvalidDecisionError, match="conflicts"):
        store.enqueue(make_item(dedupe_key="a"), dedupe_key="b")


def test_approve_reject_and_edit(store: ReviewStore, make_item: MakeItem) -> None:
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


def test_decisions_are_final_and_checked(store: ReviewStore, make_item: MakeItem) -> None:
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


def test_unknown_ids(store: ReviewStore) -> None:
    with pytest.raises(ReviewItemNotFoundError, match="'nope'"):
        store.get("nope")
    with pytest.raises(ReviewItemNotFoundError):
        store.decide("nope", "approve", "ann")
    with pytest.raises(ReviewItemNotFoundError):
        store.wait("nope", timeout_s=1, poll_s=0.01)


def test_list_filters(store: ReviewStore, make_item: MakeItem) -> None:
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


def test_export_jsonl_and_csv(store: ReviewStore, make_item: MakeItem) -> None:
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


def test_wait_returns_once_another_thread_decides(store: ReviewStore, make_item: MakeItem) -> None:
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


def test_wait_times_out(store: ReviewStore, make_item: MakeItem) -> None:
    item = store.enqueue(make_item())
    began = time.monotonic()
    with pytest.raises(ReviewTimeoutError) as info:
        store.wait(item.id, timeout_s=0.1, poll_s=0.02)
    assert time.monotonic() - began < 5
    assert info.value.is_retryable
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(GuardrailConfigError):
        store.wait(item.id, timeout_s=1, poll_s=0)


def test_claims_hand_out_each_pending_item_to_one_reviewer(
    store: ReviewStore, make_item: MakeItem
) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    a, b, c = (
        store.enqueue(make_item(queue=q, created_at=start + timedelta(minutes=i)))
        for i, q in enumerate(["x", "y", "x"])
    )
    first = store.claim("ann")
    assert first is not None
    assert (first.id, first.claimed_by) == (a.id, "ann")
    assert first.claimed_until is not None
    assert first.claimed_until > datetime.now(UTC)
    assert store.get(a.id).claimed_by == "ann"
    second = store.claim("bob", queue="x")
    assert second is not None
    assert second.id == c.id  # a is held by ann; b is in another queue
    assert store.claim("cy", queue="x") is None
    store.decide(b.id, "approve", "ann")
    assert store.claim("cy") is None  # decided items are never claimed
    released = store.release(a.id, "ann")
    assert released.id == a.id
    again = store.claim("cy")
    assert again is not None
    assert (again.id, again.claimed_by) == (a.id, "cy")
    assert store.pending_counts() == {"x": 2}
    with pytest.raises(InvalidDecisionError, match="claimed by 'cy'"):
        store.release(a.id, "ann")
    with pytest.raises(ReviewItemNotFoundError):
        store.release("nope", "ann")
    with pytest.raises(InvalidDecisionError, match="reviewer"):
        store.claim(" ")
    with pytest.raises(GuardrailConfigError):
        store.claim("ann", lease_s=0)


def test_a_lapsed_claim_can_be_claimed_again(store: ReviewStore, make_item: MakeItem) -> None:
    item = store.enqueue(make_item())
    assert store.claim("ann", lease_s=0.05) is not None
    deadline = time.monotonic() + 30
    taken = None
    while taken is None and time.monotonic() < deadline:
        time.sleep(0.06)
        taken = store.claim("bob")
    assert taken is not None
    assert (taken.id, taken.claimed_by) == (item.id, "bob")


def test_concurrent_claims_never_share_an_item(store: ReviewStore, make_item: MakeItem) -> None:
    items = {store.enqueue(make_item()).id for _ in range(24)}
    got: dict[str, list[str]] = {f"r{i}": [] for i in range(4)}

    def reviewer(name: str) -> None:
        while (item := store.claim(name)) is not None:
            got[name].append(item.id)

    threads = [threading.Thread(target=reviewer, args=(name,)) for name in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    claimed = [item_id for ids in got.values() for item_id in ids]
    assert sorted(claimed) == sorted(items)  # every item once, none twice


def test_a_waiting_claim_gets_an_item_enqueued_later(
    store: ReviewStore, make_item: MakeItem
) -> None:
    item = make_item(queue="late")
    timer = threading.Timer(0.2, store.enqueue, args=(item,))
    timer.start()
    try:
        claimed = store.claim("ann", queue="late", wait_s=60)
    finally:
        timer.join()
    assert claimed is not None
    assert claimed.id == item.id
    began = time.monotonic()
    assert store.claim("ann", queue="late", wait_s=0.1) is None
    assert time.monotonic() - began >= 0.1
