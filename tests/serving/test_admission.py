"""``POST /score`` admission: token, body bytes and read deadline, item count (no Ray needed)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.serving.admission import (
    Admission,
    Refusal,
    ServeLimits,
    is_loopback,
    token_digest,
    token_from_env,
)
from guardrail.serving.service import ScoreRequest

TOKEN = "t0k3n-for-the-scorer-service"
LIMITS = ServeLimits(max_body_bytes=4096, max_items=4, body_timeout_s=0.3)


class FakeRequest:
    """Headers and a body that comes in ``chunks`` (``None``: the client stops sending)."""

    def __init__(self, headers: dict[str, str], chunks: list[bytes | None]) -> None:
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.chunks = chunks
        self.read = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            if chunk is None:
                await asyncio.sleep(3600)  # declared a body, never sends the rest
                return
            self.read += len(chunk)
            yield chunk


def body(items: int = 1, answer: str = "a") -> bytes:
    return json.dumps({"items": [{"question": "q", "answer": answer}] * items}).encode()


def admit(request: FakeRequest, token: str | None = TOKEN) -> ScoreRequest | Refusal:
    admission = Admission(LIMITS, None if token is None else token_digest(token))
    return asyncio.run(admission.admit(request))


def authorized(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **(extra or {})}


def test_a_request_with_the_token_is_admitted() -> None:
    admitted = admit(FakeRequest(authorized(), [body(2)]))
    assert isinstance(admitted, ScoreRequest)
    assert len(admitted.items) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-some-length"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong", "no-scheme", "basic", "empty"],
)
def test_a_missing_or_wrong_token_is_401_before_the_body_is_read(headers: dict[str, str]) -> None:
    request = FakeRequest(headers, [body()])
    refused = admit(request)
    assert isinstance(refused, Refusal)
    assert refused.status == 401
    assert ("WWW-Authenticate", "Bearer") in refused.headers
    assert request.read == 0
    assert TOKEN not in refused.message


def test_without_a_token_every_request_is_admitted() -> None:
    assert isinstance(admit(FakeRequest({}, [body()]), token=None), ScoreRequest)


def test_a_declared_body_over_the_limit_is_413_unread() -> None:
    request = FakeRequest(authorized({"Content-Length": str(10**9)}), [b"x" * 10])
    refused = admit(request)
    assert isinstance(refused, Refusal)
    assert refused.status == 413
    assert "4096 bytes" in refused.message
    assert request.read == 0


def test_a_body_over_the_limit_is_413_and_reading_stops() -> None:
    request = FakeRequest(authorized(), [b"x" * 1000] * 100)
    refused = admit(request)
    assert isinstance(refused, Refusal)
    assert refused.status == 413
    assert request.read <= LIMITS.max_body_bytes + 1000


@pytest.mark.parametrize("items", [5, 1025])
def test_too_many_items_is_413(items: int) -> None:
    limits = ServeLimits(max_body_bytes=1 << 20, max_items=4)
    admission = Admission(limits, token_digest(TOKEN))
    refused = asyncio.run(admission.admit(FakeRequest(authorized(), [body(items)])))
    assert isinstance(refused, Refusal)
    assert refused.status == 413
    assert "checkpoints" in refused.message


def test_a_body_that_never_comes_is_408_within_the_deadline() -> None:
    request = FakeRequest(authorized({"Content-Length": "4000"}), [b'{"items": [', None])
    started = time.monotonic()
    refused = admit(request)
    assert isinstance(refused, Refusal)
    assert refused.status == 408
    assert time.monotonic() - started < LIMITS.body_timeout_s + 1.0


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"not json", "body"),
        (b'{"items": []}', "items"),
        (b'{"items": [{"answer": 1}]}', "items.0"),
    ],
)
def test_a_malformed_request_is_400_naming_the_field_not_echoing_it(raw: bytes, where: str) -> None:
    refused = admit(FakeRequest(authorized(), [raw]))
    assert isinstance(refused, Refusal)
    assert refused.status == 400
    assert where in refused.message


def test_a_bad_request_does_not_echo_its_content() -> None:
    secret_text = "sk-" + "A1b2" * 8
    raw = json.dumps({"items": [{"question": secret_text, "answer": 7}]}).encode()
    refused = admit(FakeRequest(authorized(), [raw]))
    assert isinstance(refused, Refusal)
    assert secret_text not in refused.message


def test_tokens_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVE_TOKEN_TEST", raising=False)
    assert token_from_env("SERVE_TOKEN_TEST") is None
    monkeypatch.setenv("SERVE_TOKEN_TEST", "short")
    with pytest.raises(GuardrailConfigError, match="at least 16"):
        token_from_env("SERVE_TOKEN_TEST")
    monkeypatch.setenv("SERVE_TOKEN_TEST", f" {TOKEN}\n")
    assert token_from_env("SERVE_TOKEN_TEST") == TOKEN


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("scorer.internal", False),
    ],
)
def test_loopback_hosts(host: str, loopback: Any) -> None:
    assert is_loopback(host) is loopback
