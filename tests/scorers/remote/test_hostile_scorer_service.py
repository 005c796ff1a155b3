"""Fault injection: a scripted hostile scorer service on 127.0.0.1 against the RemoteScorer.

Every failure is a clean :class:`RemoteScorerError` or :class:`ScorerTimeoutError` within the
latency budget, and no error repeats a credential the client sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from guardrail.errors import GuardrailRuntimeError, ScorerTimeoutError
from guardrail.scorers.remote import RemoteScorer, RemoteScorerError
from guardrail.scorers.remote.tokens import PromptTokens
from guardrail.testing.hostile import HostileScorerService, Reply

BUDGET = 0.5
SLACK = 1.0  # scheduling on a loaded machine; the hostile replies below last 6 s or more
TOKEN = "plainlowercasetokenvalue"  # no shape a pattern would catch: only scrubbing hides it
OK = b'{"values": [0.25]}'
INVALID = ("NaN", "Infinity", "-Infinity", 7.5, -3.0, "true", '"0.5"', "null")


@pytest.fixture(scope="module")
def tokens(tiny_scorer: Any) -> PromptTokens:
    return PromptTokens.for_tokenizer(tiny_scorer.tokenizer)


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Iterator[HostileScorerService]:
    with HostileScorerService(request.param) as svc:
        yield svc


def remote(
    svc: HostileScorerService, engine: str = "ray", tokens: PromptTokens | None = None, **kw: Any
) -> RemoteScorer:
    return RemoteScorer(
        svc.url,
        engine,  # type: ignore[arg-type]
        tokens=tokens,
        latency_budget_s=kw.pop("latency_budget_s", BUDGET),
        max_attempts=kw.pop("max_attempts", 2),
        **kw,
    )


def timed(call: Any) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(GuardrailRuntimeError) as info:
        call()
    return info.value, time.monotonic() - started


@pytest.mark.parametrize(
    "service",
    [
        [Reply.trickle(OK + b" " * 40, interval_s=0.15)],  # 57 bytes: 8.5 s if let run
        [Reply.hang()],
        [Reply.slow_body(OK, delay_s=6.0)],
    ],
    indirect=True,
    ids=["trickle", "hang", "slow-body"],
)
@pytest.mark.parametrize("engine", ["ray", "sglang", "vllm"])
def test_a_stalling_service_cannot_hold_a_call_past_its_budget(
    service: HostileScorerService, engine: str, tokens: PromptTokens
) -> None:
    scorer = remote(service, engine, tokens)
    error, elapsed = timed(lambda: scorer.score("q", "a"))
    assert isinstance(error, ScorerTimeoutError)
    assert elapsed < BUDGET + SLACK
    scorer.close()


@pytest.mark.parametrize(
    "service", [[Reply.trickle(OK + b" " * 40, interval_s=0.15)]], indirect=True
)
def test_a_session_checkpoint_and_a_batch_keep_the_deadline(service: HostileScorerService) -> None:
    scorer = remote(service)
    session = scorer.open_session("q")
    session.append("a")
    for call in (session.score, lambda: scorer.score_batch([("q", "a"), ("q", "b")])):
        error, elapsed = timed(call)
        assert isinstance(error, ScorerTimeoutError)
        assert elapsed < BUDGET + SLACK
    scorer.close()


@pytest.mark.parametrize(
    ("service", "match"),
    [
        (
            [Reply.raw("<html><body>502 proxy \x1b[2J</body></html>", content_type="text/html")],
            "not JSON",
        ),
        ([Reply.raw("[" * 100_000)], "not JSON"),
        ([Reply.raw(b"\xff\xfe\x00garbage\x00")], "not JSON"),
        ([Reply.raw('{"values": "everything is fine"}')], "for 1 checkpoint"),
        ([Reply.raw('{"nothing": []}')], "no field 'values'"),
        ([Reply.oversized(1 << 40)], "declared a body"),
    ],
    indirect=["service"],
    ids=["html", "deep-nesting", "binary", "wrong-shape", "no-values", "oversized"],
)
def test_garbage_is_a_clean_error(service: HostileScorerService, match: str) -> None:
    scorer = remote(service)
    with pytest.raises(RemoteScorerError, match=match) as info:
        scorer.score("q", "a")
    assert "\x1b" not in str(info.value)
    assert len(str(info.value)) < 1200
    scorer.close()


@pytest.mark.parametrize(
    "service",
    [
        [Reply.values(v)]
        for v in ("NaN", "Infinity", "-Infinity", 7.5, -3.0, "true", '"0.5"', "null")
    ],
    indirect=True,
    ids=["nan", "inf", "-inf", "7.5", "-3.0", "true", "string", "null"],
)
def test_invalid_confidences_are_refused(service: HostileScorerService) -> None:
    scorer = remote(service)
    with pytest.raises(RemoteScorerError, match=r"confidence|non-number|non-finite"):
        scorer.score("q", "a")
    with pytest.raises(RemoteScorerError):
        scorer.score_batch([("q", "a"), ("q", "b")])
    scorer.close()


@pytest.mark.parametrize("service", [[Reply.echo_headers(404)]], indirect=True)
def test_an_error_page_echoing_the_headers_never_repeats_the_credential(
    service: HostileScorerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCORER_TOKEN", TOKEN)
    scorer = remote(service, api_key_env="SCORER_TOKEN", headers={"X-Api-Key": TOKEN + "2"})
    with pytest.raises(RemoteScorerError, match="HTTP 404") as info:
        scorer.score("q", "a")
    assert service.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(info.value)
    assert "you sent" in str(info.value)  # the page itself is shown, scrubbed
    scorer.close()


@pytest.mark.parametrize("service", [[Reply.values(0.25)]], indirect=True)
def test_lone_surrogates_are_sent_as_replacement_characters(
    service: HostileScorerService,
) -> None:
    scorer = remote(service)
    session = scorer.open_session("q\udc80")
    session.append("an answer \ud800 with a lone surrogate")
    assert session.score() == 0.25
    session.append(" and more")
    assert session.score() == 0.25  # the stream goes on
    sent = json.loads(service.requests[-1].body.decode("utf-8"))
    assert sent["items"][0]["question"] == "q\ufffd"
    assert "\ufffd with a lone surrogate and more" in sent["items"][0]["answer"]
    scorer.close()


@pytest.mark.parametrize(
    "service", [[Reply.raw(b"", status=503), Reply.values(0.5)]], indirect=True
)
def test_a_transient_failure_is_retried_within_the_budget(service: HostileScorerService) -> None:
    scorer = remote(service, latency_budget_s=5.0)
    assert scorer.score("q", "a") == 0.5
    assert len(service.requests) == 2
    scorer.close()


@pytest.mark.parametrize("service", [[Reply.values(0.5)]], indirect=True)
def test_a_large_batch_goes_in_calls_the_service_accepts(service: HostileScorerService) -> None:
    scorer = remote(service, latency_budget_s=5.0, max_batch_items=4)
    assert scorer.score_batch([("q", str(n)) for n in range(10)]) == [0.5] * 10
    sizes = [len(json.loads(r.body)["items"]) for r in service.requests]
    assert sizes == [4, 4, 2]
    scorer.close()
