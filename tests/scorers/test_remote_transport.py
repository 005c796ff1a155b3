"""RemoteScorer's HTTP: retries on connection errors, 5xx and 429; a deadline end to end."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from guardrail.errors import ScorerTimeoutError
from guardrail.scorers.remote import RemoteScorer, RemoteScorerError


class Script:
    """A mock server answering from a list of (status, body) or exceptions, then 200."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.headers.append(request.headers)
        step = self.steps.pop(0) if self.steps else (200, None)
        if isinstance(step, Exception):
            raise step
        status, payload = step
        if payload is None:
            payload = {"values": [0.5] * len(body["items"]), "replica": "r1"}
        if isinstance(payload, str):
            return httpx.Response(status, text=payload)
        return httpx.Response(status, json=payload)


def scorer(script: Script, budget: float = 5.0, **options: Any) -> RemoteScorer:
    return RemoteScorer(
        "http://scorer.test:8000",
        "ray",
        transport=httpx.MockTransport(script),
        latency_budget_s=budget,
        **options,
    )


@pytest.mark.parametrize(
    "failure",
    [
        (503, {"error": "replica died"}),
        (429, {"error": "busy"}),
        (500, "Internal Server Error"),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
    ],
)
def test_transient_failures_are_retried(failure: Any) -> None:
    script = Script(failure, failure)
    assert scorer(script).score("q", "a") == 0.5
    assert len(script.bodies) == 3


def test_client_errors_fail_at_once_with_the_server_message() -> None:
    script = Script((400, {"error": "bad /score request: items missing"}))
    with pytest.raises(RemoteScorerError, match=r"HTTP 400.*items missing") as info:
        scorer(script).score("q")
    assert not info.value.is_retryable
    assert len(script.bodies) == 1


def test_a_body_that_is_not_json_is_an_error() -> None:
    with pytest.raises(RemoteScorerError, match="not JSON"):
        scorer(Script((200, "<html>proxy</html>"))).score("q")


def test_retries_stop_after_max_attempts_and_say_retryable() -> None:
    script = Script(*[(503, {"error": "down"})] * 10)
    with pytest.raises(RemoteScorerError, match="3 attempt") as info:
        scorer(script, max_attempts=3).score("q")
    assert info.value.is_retryable
    assert len(script.bodies) == 3


def test_the_latency_budget_bounds_the_whole_call() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.15)  # each attempt times out; the retries would outlast the budget
        raise httpx.ReadTimeout("read timed out")

    remote = scorer(Script(), budget=0.3, max_attempts=100)
    remote.http._options["transport"] = httpx.MockTransport(slow)  # before first use
    started = time.monotonic()
    with pytest.raises(ScorerTimeoutError, match=r"latency budget of 0\.3s"):
        remote.score("q")
    assert time.monotonic() - started < 0.3 + 0.15 + 5.0  # the budget, one attempt, slack


def test_session_checkpoints_carry_the_stream_for_affinity() -> None:
    script = Script()
    session = scorer(script).open_session("What is 2 + 2?")
    session.append("2 + 2")
    session.score()
    session.append(" = 4")
    session.score()
    first, second = script.bodies
    assert first["items"] == [
        {"question": "What is 2 + 2?", "answer": "2 + 2", "stream": session.stream}
    ]
    assert second["items"][0]["answer"] == "2 + 2 = 4"  # stateless: the whole answer each time
    assert {h["serve_multiplexed_model_id"] for h in script.headers} == {session.stream}
    session.close()
    with pytest.raises(RemoteScorerError.__mro__[1], match="closed"):
        session.score()


def test_score_batch_is_one_call_without_affinity() -> None:
    script = Script()
    assert scorer(script).score_batch([("q", ""), ("q", "a")]) == [0.5, 0.5]
    assert len(script.bodies) == 1
    assert "serve_multiplexed_model_id" not in script.headers[0]


def test_a_wrong_number_of_values_is_an_error() -> None:
    with pytest.raises(RemoteScorerError, match="for 2 checkpoint"):
        scorer(Script((200, {"values": [0.5]}))).score_batch([("q", ""), ("q", "a")])
