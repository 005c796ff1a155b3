"""Scorer-service credentials: in headers, never in names, reprs, errors, logs or spans."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError
from guardrail.scorers.remote import RemoteScorer
from guardrail.scorers.remote.transport import join_url
from guardrail.testing.hostile import HostileScorerService, Reply

PASSWORD = "pw-Zq81xLm"
KEY = "keyvalue0Zq81"


@pytest.fixture
def service() -> Iterator[HostileScorerService]:
    with HostileScorerService([Reply.values(0.5)]) as svc:
        yield svc


def secret_url(svc: HostileScorerService, path: str = "/base") -> str:
    return svc.url.replace("http://", f"http://svc:{PASSWORD}@") + f"{path}?api_key={KEY}"


def leaks(text: str) -> bool:
    return PASSWORD in text or KEY in text


@pytest.mark.parametrize(
    ("base", "route", "joined"),
    [
        ("http://h:1", "/score", "http://h:1/score"),
        ("http://h:1/", "/score", "http://h:1/score"),
        ("http://h:1/api/v2/", "/score", "http://h:1/api/v2/score"),
        ("http://h:1/?api_key=K", "/score", "http://h:1/score?api_key=K"),
        ("http://h:1/api?x=1&y=2", "/v1/completions", "http://h:1/api/v1/completions?x=1&y=2"),
    ],
)
def test_routes_are_joined_to_the_path_and_the_query_is_kept(
    base: str, route: str, joined: str
) -> None:
    assert join_url(base, route) == joined


def test_url_credentials_become_a_header_and_leave_every_string(
    service: HostileScorerService,
) -> None:
    scorer = RemoteScorer(secret_url(service), "ray", latency_budget_s=5.0)
    assert scorer.score("q", "a") == 0.5
    sent = service.requests[0]
    assert sent.path == f"/base/score?api_key={KEY}"  # the service still gets its query
    assert sent.headers["authorization"].startswith("Basic ")
    for shown in (scorer.name, repr(scorer), scorer.url, str(scorer.http.display_url)):
        assert not leaks(shown), shown
    assert scorer.name.endswith(f"@{service.url}/base")
    scorer.close()


def test_errors_of_a_url_with_credentials_do_not_repeat_them() -> None:
    with HostileScorerService([Reply.hang()]) as svc:
        scorer = RemoteScorer(secret_url(svc), "ray", latency_budget_s=0.3, max_attempts=1)
        with pytest.raises(GuardrailRuntimeError) as info:
            scorer.score("q")
        scorer.close()
    assert not leaks(str(info.value))
    assert "/base/score" in str(info.value)


def test_api_key_env_sends_a_bearer_header(
    service: HostileScorerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SCORER_TOKEN", KEY)
    scorer = RemoteScorer(
        service.url, "ray", api_key_env="MY_SCORER_TOKEN", headers={"X-Tenant": "acme"}
    )
    scorer.score("q")
    assert service.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert service.requests[0].headers["x-tenant"] == "acme"
    assert not leaks(repr(scorer) + scorer.name)
    scorer.close()


def test_a_missing_api_key_variable_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN_VARIABLE", raising=False)
    with pytest.raises(GuardrailConfigError, match="NO_SUCH_TOKEN_VARIABLE"):
        RemoteScorer("http://127.0.0.1:9", "ray", api_key_env="NO_SUCH_TOKEN_VARIABLE")


def test_httpx_log_lines_are_redacted(
    service: HostileScorerService, caplog: pytest.LogCaptureFixture
) -> None:
    scorer = RemoteScorer(secret_url(service), "ray", latency_budget_s=5.0)
    # litellm, once imported by an earlier test, sets the httpx logger to WARNING: ask for its INFO
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.INFO, logger="httpx"):
        scorer.score("q")
    scorer.close()
    assert any(r.name.startswith("httpx") for r in caplog.records)
    assert not leaks(caplog.text)


def test_policy_scorer_settings_carry_headers_and_api_key_env(
    service: HostileScorerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guardrail.policy import Policy
    from guardrail.scorers import scorer_for_settings

    monkeypatch.setenv("POLICY_SCORER_TOKEN", KEY)
    policy = Policy.from_dict(
        {
            "version": 1,
            "name": "remote",
            "scorer": {
                "url": service.url,
                "engine": "ray",
                "api_key_env": "POLICY_SCORER_TOKEN",
                "headers": {"X-Tenant": "acme"},
            },
        }
    )
    assert KEY not in repr(policy.scorer)
    scorer: Any = scorer_for_settings(policy.scorer)
    scorer.score("q")
    assert service.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert service.requests[0].headers["x-tenant"] == "acme"
    scorer.close()


@pytest.mark.parametrize(
    "scorer",
    [
        {"url": "http://u:pw@h:1/", "engine": "ray"},
        {"url": "http://h:1/", "headers": {"Bad Header": "x"}},
        {"url": "http://h:1/", "api_key_env": "lower-case not a variable"},
    ],
)
def test_policy_refuses_credentials_in_the_url_and_malformed_headers(
    scorer: dict[str, Any],
) -> None:
    from guardrail.policy import Policy

    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_dict({"version": 1, "name": "remote", "scorer": scorer})
    assert "pw@" not in str(info.value)


def test_exception_events_of_telemetry_are_redacted() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from guardrail.telemetry import configure_telemetry, disable_telemetry

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider()
    telemetry = configure_telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        run = telemetry.traced_run(None, run_id="r1", policy="p", policy_version=1)
        run.start({})
        try:
            raise RuntimeError(f"connect to http://svc:{PASSWORD}@h/?api_key={KEY} failed")
        except RuntimeError as exc:
            run.error(exc, {"detail": f"password={PASSWORD}"})
        run.end("error")
    finally:
        disable_telemetry()
        meter_provider.shutdown()
    events = [e for span in exporter.get_finished_spans() for e in span.events]
    assert any(e.name == "exception" for e in events)
    for event in events:
        assert not leaks(str(dict(event.attributes or {})))


def test_an_environment_proxy_is_still_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    from guardrail.scorers.remote.transport import _environment_proxy

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "scorer.local")
    assert _environment_proxy("http://scorer.example:8000/x") == "http://proxy.internal:3128"
    assert _environment_proxy("http://scorer.local:8000/x") is None
    scorer = RemoteScorer("http://scorer.example:8000", "ray")
    assert scorer.http.client is not None  # the deadline transport builds with the proxy
    scorer.close()
