from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from webhook_server import WebhookServer

from guardrail.errors import GuardrailConfigError
from guardrail.review import (
    ReviewItem,
    ReviewSink,
    WebhookDeliveryError,
    WebhookSink,
    sign,
    verify_signature,
)

SECRET = "s3cr3t-WEBHOOK-value"
MakeItem = Callable[..., ReviewItem]


def _sink(
    server: WebhookServer, tmp_path: Path, **kwargs: object
) -> tuple[WebhookSink, list[float]]:
    sleeps: list[float] = []
    options: dict[str, object] = {
        "timeout_s": 2.0,
        "max_attempts": 4,
        "dead_letter_path": tmp_path / "dead" / "letters.jsonl",
        "backoff_s": 0.01,
        "sleep": sleeps.append,
        "background": False,  # these tests watch one delivery's attempts as they happen
    }
    options.update(kwargs)
    return WebhookSink(server.url, SECRET, **options), sleeps  # type: ignore[arg-type]


def test_delivers_signed_json(
    webhook_server: WebhookServer, tmp_path: Path, make_item: MakeItem
) -> None:
    sink, _ = _sink(webhook_server, tmp_path)
    assert isinstance(sink, ReviewSink)
    item = make_item()
    sink.notify("review.enqueued", item)
    [request] = webhook_server.received
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert verify_signature(SECRET, request.body, headers["x-guardrail-signature"])
    assert headers["x-guardrail-signature"].startswith("sha256=")
    assert headers["x-guardrail-timestamp"].isdigit()
    assert headers["x-guardrail-event"] == "review.enqueued"
    payload = json.loads(request.body)
    assert payload["event"] == "review.enqueued"
    assert payload["delivery_id"] == headers["x-guardrail-delivery"]
    assert ReviewItem.model_validate_json(json.dumps(payload["item"])) == item


def test_signature_helpers() -> None:
    body = b'{"a": 1}'
    header = sign(SECRET, body)
    assert verify_signature(SECRET.encode(), body, header)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature("other", body, header)
    assert not verify_signature(SECRET, body, None)


def test_retries_5xx_with_backoff_then_succeeds(
    webhook_server: WebhookServer, tmp_path: Path
) -> None:
    webhook_server.script = [500, 503, 200]
    sink, sleeps = _sink(webhook_server, tmp_path)
    report = sink.send({"hello": "world"}, event="test")
    assert report.delivered
    assert report.attempts == 3
    assert report.status == 200
    assert sleeps == pytest.approx([0.01, 0.02])
    bodies = {r.body for r in webhook_server.received}
    deliveries = {r.headers["X-Guardrail-Delivery"] for r in webhook_server.received}
    assert len(bodies) == 1
    assert deliveries == {report.delivery_id}
    assert not (tmp_path / "dead" / "letters.jsonl").exists()


def test_429_and_timeouts_are_retried(webhook_server: WebhookServer, tmp_path: Path) -> None:
    webhook_server.script = [429, ("sleep", 0.6), 200]
    sink, _ = _sink(webhook_server, tmp_path, timeout_s=0.2)
    report = sink.send({"x": 1})
    assert report.delivered
    assert report.attempts == 3


@pytest.mark.parametrize("status", [400, 401, 404, 302])
def test_4xx_and_redirects_are_not_retried(
    webhook_server: WebhookServer, tmp_path: Path, status: int
) -> None:
    webhook_server.script = [status, 200]
    sink, sleeps = _sink(webhook_server, tmp_path)
    report = sink.send({"x": 1})
    assert not report.delivered
    assert report.dead_lettered
    assert report.attempts == 1
    assert report.status == status
    assert sleeps == []
    assert len(webhook_server.received) == 1


def test_dead_letter_after_the_last_failure(
    webhook_server: WebhookServer,
    tmp_path: Path,
    make_item: MakeItem,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook_server.script = [500] * 10
    sink, _ = _sink(webhook_server, tmp_path, max_attempts=3)
    item = make_item()
    sink.notify("review.decided", item)
    assert len(webhook_server.received) == 3
    dead = tmp_path / "dead" / "letters.jsonl"
    [line] = dead.read_text().splitlines()
    record = json.loads(line)
    assert record["attempts"] == 3
    assert record["status"] == 500
    assert record["event"] == "review.decided"
    assert record["payload"]["item"]["id"] == item.id
    assert record["url"] == webhook_server.url.split("/hooks")[0]
    assert "attempt 1/3 failed" in caplog.text
    assert "dead-lettered" in caplog.text
    for secret in (SECRET, "T0K3N", "Q-SECRET"):
        assert secret not in caplog.text
        assert secret not in line
        assert secret not in repr(sink)


def test_no_dead_letter_file_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    sink = WebhookSink(
        f"http://user:pw-{SECRET}@127.0.0.1:{port}/x",
        SECRET,
        1.0,
        3,
        sleep=sleeps.append,
        background=False,
    )
    with pytest.raises(WebhookDeliveryError, match="after 3 attempt") as info:
        sink.send({"x": 1})
    assert info.value.attempts == 3
    assert len(sleeps) == 2
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(sink)


def test_bad_settings() -> None:
    with pytest.raises(GuardrailConfigError, match="http"):
        WebhookSink("file:///etc/passwd", SECRET)
    with pytest.raises(GuardrailConfigError, match="secret"):
        WebhookSink("http://127.0.0.1/", "")
    with pytest.raises(GuardrailConfigError):
        WebhookSink("http://127.0.0.1/", SECRET, max_attempts=0)
    with pytest.raises(GuardrailConfigError):
        WebhookSink("http://127.0.0.1/", SECRET, timeout_s=0)
