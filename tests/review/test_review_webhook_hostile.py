"""Webhook against careless URLs and hostile receivers: no leaked password, bounded attempts."""

from __future__ import annotations

import base64
import gc
import http.client
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from webhook_server import WebhookServer

from guardrail.errors import GuardrailConfigError
from guardrail.review import ReviewItem, ReviewQueue, WebhookDeliveryError, WebhookSink

SECRET = "s3cr3t-WEBHOOK-value"
PASSWORD = "pa55-W0RD-xyz"
MakeItem = Callable[..., ReviewItem]


def _with_credentials(url: str) -> str:
    return url.replace("http://", f"http://alice:{PASSWORD}@", 1)


def test_url_password_is_sent_as_basic_auth_and_never_written(
    webhook_server: WebhookServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = _with_credentials(webhook_server.url)
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(url, SECRET, 2.0, 2, dead, backoff_s=0.0, sleep=lambda s: None)
    assert sink.send({"x": 1}).delivered
    [request] = webhook_server.received
    expected = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    webhook_server.script = [500, 500]
    report = sink.send({"x": 2})
    assert report.dead_lettered
    for text in (caplog.text, dead.read_text(), str(report.error), repr(sink)):
        assert PASSWORD not in text
        assert expected not in text


def test_unreachable_url_with_password_raises_without_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = WebhookSink(
        f"http://bob:{PASSWORD}@127.0.0.1:{port}/x", SECRET, 1.0, 2, sleep=lambda s: None
    )
    with pytest.raises(WebhookDeliveryError) as info:
        sink.send({"x": 1})
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_bad_port_is_a_config_error(port: str) -> None:
    url = f"http://u:{PASSWORD}@127.0.0.1:{port}/x"
    with pytest.raises(GuardrailConfigError, match=r"port|not usable") as info:
        WebhookSink(url, SECRET)
    assert PASSWORD not in str(info.value)


@pytest.fixture
def trickler() -> Iterator[str]:
    """A receiver that answers one header line every 0.2 s, for a long time."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    for i in range(200):
                        if stop.wait(0.2):
                            break
                        conn.sendall(f"X-Slow-{i}: a\r\n".encode())
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join()
        server.close()


def test_timeout_is_a_deadline_per_attempt(trickler: str, tmp_path: Path) -> None:
    sink = WebhookSink(trickler, SECRET, timeout_s=1.0, max_attempts=1)
    started = time.monotonic()
    with pytest.raises(WebhookDeliveryError, match="deadline"):
        sink.send({"x": 1})
    # A per-read timeout would wait for all 200 trickled lines (40 s); the deadline cuts at 1 s.
    assert time.monotonic() - started < 20.0


def test_background_delivery_does_not_hold_the_caller(
    webhook_server: WebhookServer, tmp_path: Path, make_item: MakeItem
) -> None:
    release = threading.Event()
    original = webhook_server.next_response

    def stalled(request: object) -> int | tuple[str, float]:
        release.wait(30)
        return original(request)  # type: ignore[arg-type]

    webhook_server.next_response = stalled  # type: ignore[method-assign]
    sink = WebhookSink(webhook_server.url, SECRET, timeout_s=30.0, background=True)
    item = make_item()
    sink.notify("review.enqueued", item)  # returns although the receiver is stalled
    assert webhook_server.received == []
    assert not sink.flush(timeout_s=0.05)
    release.set()
    assert sink.flush(timeout_s=30)
    [request] = webhook_server.received
    assert json.loads(request.body)["item"]["id"] == item.id
    sink.close()


def test_background_failure_without_dead_letter_is_logged(
    tmp_path: Path, make_item: MakeItem, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = WebhookSink(
        f"http://127.0.0.1:{port}/x", SECRET, 1.0, 1, background=True, sleep=lambda s: None
    )
    with caplog.at_level(logging.ERROR):
        sink.notify("review.enqueued", make_item())
        assert sink.flush(timeout_s=30)
    assert "lost" in caplog.text
    sink.close()


def test_committed_item_does_not_fail_the_guarded_call(
    tmp_path: Path, make_item: MakeItem, caplog: pytest.LogCaptureFixture
) -> None:
    from guardrail.runtime import QueueReviewSink

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    webhook = WebhookSink(
        f"http://127.0.0.1:{port}/x", SECRET, 1.0, 1, sleep=lambda s: None, background=False
    )
    queue = ReviewQueue(path=tmp_path / "review.db", sinks=[webhook])
    sink = QueueReviewSink(queue)
    with caplog.at_level(logging.ERROR):
        review_id = sink.submit({"question": "What is 2 + 2?", "answer": "5", "partial": False})
    assert queue.get(review_id).answer == "5"
    assert "committed" in caplog.text
    queue.close()


def test_a_failed_body_read_closes_the_socket(
    webhook_server: WebhookServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once its headers are read the response owns the socket. A body read that fails in a way
    # http.client does not clean up after (a socket timeout racing the attempt's deadline) must
    # still close it there and then, not leave the descriptor to the garbage collector: a
    # ResourceWarning in whichever later code happens to trigger a collection.
    def stalled_read(self: http.client.HTTPResponse, amt: int | None = None) -> bytes:
        raise TimeoutError("timed out")

    monkeypatch.setattr(http.client.HTTPResponse, "read", stalled_read)
    sink = WebhookSink(webhook_server.url, SECRET, 5.0, 1, tmp_path / "dead.jsonl")
    gc.collect()
    gc.disable()  # what is still open after send() is what send() left open
    try:
        before = len(os.listdir("/proc/self/fd"))
        report = sink.send({"x": 1})
        after = len(os.listdir("/proc/self/fd"))
    finally:
        gc.enable()
    assert report.dead_lettered
    assert "timed out" in str(report.error)
    assert after == before
