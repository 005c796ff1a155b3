from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from webhook_server import WebhookServer

from guardrail.audit import JsonlAuditLog
from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError
from guardrail.review import (
    ReviewEvent,
    ReviewItem,
    ReviewItemNotFoundError,
    ReviewNotifyError,
    ReviewQueue,
    ReviewStatus,
    ReviewTimeoutError,
    WebhookSink,
    open_review_store,
    verify_signature,
)

MakeItem = Callable[..., ReviewItem]


class RecordingSink:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[tuple[ReviewEvent, str, ReviewStatus]] = []

    def notify(self, event: ReviewEvent, item: ReviewItem) -> None:
        self.seen.append((event, item.id, item.status))
        if self.fail:
            raise GuardrailRuntimeError("sink down")


def test_sinks_hear_of_new_items_and_decisions(review_db: str, make_item: MakeItem) -> None:
    sink = RecordingSink()
    with ReviewQueue(path=review_db, sinks=[sink]) as queue:
        item = queue.enqueue(make_item(), dedupe_key="k")
        duplicate = queue.enqueue(make_item(), dedupe_key="k")
        assert duplicate == item
        assert sink.seen == [("review.enqueued", item.id, ReviewStatus.PENDING)]
        queue.approve(item.id, "ann")
        assert sink.seen[-1] == ("review.decided", item.id, ReviewStatus.APPROVED)


def test_a_failing_sink_does_not_lose_the_item_or_silence_others(
    review_db: str, make_item: MakeItem
) -> None:
    broken, healthy = RecordingSink(fail=True), RecordingSink()
    queue = ReviewQueue(open_review_store(review_db), sinks=[broken, healthy])
    item = make_item()
    with pytest.raises(ReviewNotifyError, match="committed but 1 sink") as info:
        queue.enqueue(item, dedupe_key="k")
    assert info.value.item_id == item.id
    assert len(healthy.seen) == 1
    assert queue.get(item.id) == item.model_copy(update={"dedupe_key": "k"})
    queue.close()


def test_decision_helpers_poll_and_wait(review_db: str, make_item: MakeItem) -> None:
    queue = ReviewQueue(path=review_db)
    a, b, c = (queue.enqueue(make_item()) for _ in range(3))
    assert queue.poll(a.id) is None
    assert queue.approve(a.id, "ann").final_answer == a.answer
    assert queue.reject(b.id, "ann", note="wrong").final_answer is None
    assert queue.edit(c.id, "ann", "fixed").final_answer == "fixed"
    decision = queue.poll(c.id)
    assert decision is not None
    assert decision.edited_answer == "fixed"
    assert [i.id for i in queue.list(status="rejected")] == [b.id]

    d = queue.enqueue(make_item())
    timer = threading.Timer(0.2, queue.reject, args=(d.id, "bob"))
    timer.start()
    try:
        assert queue.wait(d.id, timeout_s=10, poll_s=0.02).status is ReviewStatus.REJECTED
    finally:
        timer.join()
    queue.close()


def test_decisions_and_enqueues_are_audited(tmp_path: Path, make_item: MakeItem) -> None:
    audit = JsonlAuditLog(tmp_path / "audit.jsonl")
    with ReviewQueue(path=tmp_path / "r.db", audit=audit) as queue:
        item = queue.enqueue(make_item(run_id="run-9"))
        queue.reject(item.id, "ann", note="nope")
    records = audit.read_run("run-9")
    assert [(r.kind.value, r.payload.get("item_id")) for r in records] == [
        ("action", item.id),
        ("decision", item.id),
    ]
    assert records[1].payload["verdict"] == "reject"


def test_webhook_end_to_end(
    webhook_server: WebhookServer, review_db: str, tmp_path: Path, make_item: MakeItem
) -> None:
    webhook_server.script = [500]
    sink = WebhookSink(webhook_server.url, "k3y", 2.0, 3, tmp_path / "dead.jsonl", backoff_s=0.01)
    with ReviewQueue(path=review_db, sinks=[sink]) as queue:
        item = queue.enqueue(make_item())
        queue.edit(item.id, "ann", "better")
    bodies = [r.body for r in webhook_server.received]
    assert len(bodies) == 3  # one 500, retried, then the decision
    events = [json.loads(body)["event"] for body in bodies]
    assert events == ["review.enqueued", "review.enqueued", "review.decided"]
    assert all(
        verify_signature("k3y", r.body, r.headers["X-Guardrail-Signature"])
        for r in webhook_server.received
    )
    assert json.loads(bodies[-1])["item"]["decision"]["edited_answer"] == "better"
    assert not (tmp_path / "dead.jsonl").exists()


def test_store_or_path_not_both(review_db: str) -> None:
    with open_review_store(review_db) as store, pytest.raises(GuardrailConfigError):
        ReviewQueue(store, path=review_db)


async def test_wait_async(review_db: str, make_item: MakeItem) -> None:
    queue = ReviewQueue(path=review_db)
    item = queue.enqueue(make_item())
    with pytest.raises(ReviewTimeoutError):
        await queue.wait_async(item.id, timeout_s=0.05, poll_s=0.01)
    timer = threading.Timer(0.1, queue.approve, args=(item.id, "ann"))
    timer.start()
    try:
        decided = await queue.wait_async(item.id, timeout_s=10, poll_s=0.02)
    finally:
        timer.join()
    assert decided.status is ReviewStatus.APPROVED
    with pytest.raises(ReviewItemNotFoundError):
        await queue.wait_async("nope", timeout_s=1)
    queue.close()
