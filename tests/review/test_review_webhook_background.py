"""Webhook delivery in the background by default: an enqueue never waits for the receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from webhook_server import WebhookServer

from guardrail.review import ReviewItem, ReviewQueue, WebhookDeliveryError, WebhookSink
from guardrail.review.webhook import DEFAULT_MAX_BODY_BYTES

SECRET = "s3cr3t-WEBHOOK-value"
MakeItem = Callable[..., ReviewItem]


def test_enqueue_never_blocks_on_retries_by_default(
    webhook_server: WebhookServer, tmp_path: Path, make_item: MakeItem
) -> None:
    webhook_server.script = [500]
    in_backoff = threading.Event()
    release = threading.Event()

    def long_backoff(seconds: float) -> None:  # stands in for 30 s of retry waits
        in_backoff.set()
        release.wait(60)

    sink = WebhookSink(webhook_server.url, SECRET, 2.0, 3, sleep=long_backoff)
    queue = ReviewQueue(path=tmp_path / "review.db", sinks=[sink])
    done = threading.Event()

    def enqueue() -> None:
        queue.enqueue(make_item(question="first"))
        queue.enqueue(make_item(question="second"))
        done.set()

    caller = threading.Thread(target=enqueue)
    caller.start()
    try:
        assert in_backoff.wait(30)  # the worker is between the 500 and its retry...
        assert done.wait(30)  # ...and the caller has its items all the same
        assert not sink.flush(timeout_s=0.05)
    finally:
        release.set()
        caller.join(30)
    queue.close()  # flushes the sink: both notifications delivered, in order
    questions = [json.loads(r.body)["item"]["question"] for r in webhook_server.received]
    assert questions == ["first", "first", "second"]


def test_synchronous_delivery_is_an_option(
    webhook_server: WebhookServer, make_item: MakeItem
) -> None:
    webhook_server.script = [404]
    sink = WebhookSink(webhook_server.url, SECRET, 2.0, 1, background=False)
    with pytest.raises(WebhookDeliveryError, match="HTTP 404"):
        sink.notify("review.enqueued", make_item())
    sink.notify("review.enqueued", make_item())
    assert len(webhook_server.received) == 2  # delivered before notify returned


def test_close_dead_letters_what_it_could_not_deliver_in_time(
    webhook_server: WebhookServer, tmp_path: Path, make_item: MakeItem
) -> None:
    release = threading.Event()
    arrived = threading.Event()
    original = webhook_server.next_response

    def stalled(request: object) -> int | tuple[str, float]:
        arrived.set()
        release.wait(30)
        return original(request)  # type: ignore[arg-type]

    webhook_server.next_response = stalled  # type: ignore[method-assign]
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(webhook_server.url, SECRET, 20.0, 1, dead)
    items = [make_item() for _ in range(3)]
    for item in items:
        sink.notify("review.enqueued", item)
    assert arrived.wait(30)  # the first is in flight
    try:
        sink.close(timeout_s=0.2)
    finally:
        release.set()
    sink.flush(timeout_s=30)  # the one in flight when close gave up
    records = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [r["payload"]["item"]["id"] for r in records] == [items[1].id, items[2].id]
    assert all("the sink closed before its turn" in r["error"] for r in records)


def test_a_full_queue_dead_letters_at_once(
    webhook_server: WebhookServer, tmp_path: Path, make_item: MakeItem
) -> None:
    release = threading.Event()
    original = webhook_server.next_response

    def stalled(request: object) -> int | tuple[str, float]:
        release.wait(30)
        return original(request)  # type: ignore[arg-type]

    webhook_server.next_response = stalled  # type: ignore[method-assign]
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(webhook_server.url, SECRET, 20.0, 1, dead, max_pending=1)
    try:
        for _ in range(4):  # one in flight, one waiting, two over the bound
            sink.notify("review.enqueued", make_item())
        overflow = [json.loads(line) for line in dead.read_text().splitlines()]
        assert len(overflow) >= 2
        assert all("background queue is full (1 waiting)" in r["error"] for r in overflow)
    finally:
        release.set()
    sink.close(timeout_s=30)


def test_an_oversized_body_is_never_sent(
    webhook_server: WebhookServer, tmp_path: Path, make_item: MakeItem
) -> None:
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(webhook_server.url, SECRET, 5.0, 1, dead, background=False)
    item = make_item(answer="A" * (DEFAULT_MAX_BODY_BYTES + 1))
    report = sink.send({"event": "review.enqueued", "item": item.model_dump(mode="json")})
    assert (report.delivered, report.dead_lettered, report.attempts) == (False, True, 0)
    assert f"over max_body_bytes ({DEFAULT_MAX_BODY_BYTES:,})" in str(report.error)
    assert webhook_server.received == []
    [record] = [json.loads(line) for line in dead.read_text().splitlines()]
    assert record["payload"]["item_id"] == item.id
    assert dead.stat().st_size < 2_000  # the answer is not copied into the dead letter
    strict = WebhookSink(webhook_server.url, SECRET, 5.0, 1, max_body_bytes=1_000)
    with pytest.raises(WebhookDeliveryError, match="over max_body_bytes"):
        strict.send({"item": make_item(answer="B" * 2_000).model_dump(mode="json")})
    assert webhook_server.received == []


def test_pending_deliveries_are_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    received = tmp_path / "received.txt"
    script = textwrap.dedent(
        f"""
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from guardrail.review import ReviewItem, WebhookSink

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with open({str(received)!r}, "ab") as fh:
                    fh.write(body + b"\\n")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sink = WebhookSink(f"http://127.0.0.1:{{server.server_address[1]}}/", "k")
        for n in range(3):
            sink.notify("review.enqueued", ReviewItem(question=f"q{{n}}"))
        # no flush, no close: the interpreter's exit delivers what is pending
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, env=env)
    lines = received.read_text().splitlines()
    assert [json.loads(line)["item"]["question"] for line in lines] == ["q0", "q1", "q2"]
