"""OpenTelemetry spans, events and metrics of guarded calls, via the SDK's in-memory exporters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("langchain_core")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from guardrail.audit import JsonlAuditLog
from guardrail.errors import ScorerUnavailableError
from guardrail.integrations.langchain import guard
from guardrail.review import SQLiteReviewQueue
from guardrail.runtime import GuardAborted
from guardrail.telemetry import (
    Telemetry,
    configure_telemetry,
    current_telemetry,
    disable_telemetry,
)
from guardrail.testing import FakeStreamingChatModel, ScriptedScorer

FIRST = "Step one.\nStep two.\nStep three.\nAnswer: 41"
SECOND = "Let me redo it.\nCarefully now.\nAnswer: 42"
POLICY: dict[str, Any] = {
    "name": "traced",
    "checkpoints": {
        "strategies": [{"type": "paragraph"}],
        "min_gap": 0,
        "score_question": False,
        "score_outcome": True,
    },
    "on_error": "fail_closed",
    "rules": [
        {
            "name": "low",
            "when": {"stage": "process", "confidence_below": 0.5},
            "action": {"type": "retry", "backoff": {"initial_s": 0.0, "max_s": 0.0}},
        }
    ],
    "default_action": "continue",
}


class Traced:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.telemetry = configure_telemetry(
            tracer_provider=tracer_provider, meter_provider=self.meter_provider
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        data = self.metrics.get_metrics_data()
        found = []
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(dict(p.attributes or {}), p) for p in metric.data.data_points]
        return found


@pytest.fixture
def traced() -> Iterator[Traced]:
    state = Traced()
    try:
        yield state
    finally:
        disable_telemetry()
        state.meter_provider.shutdown()


def test_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    disable_telemetry()
    assert current_telemetry() is None
    model = FakeStreamingChatModel(responses=[SECOND])
    result = guard(model, POLICY, ScriptedScorer([0.9, 0.9, 0.9]), return_result=True).invoke("q")
    assert result.status == "ok"


def test_a_retried_call_is_one_span_with_an_attempt_span_each(
    traced: Traced, tmp_path: Path
) -> None:
    audit = JsonlAuditLog(tmp_path / "audit.jsonl")
    model = FakeStreamingChatModel(responses=[FIRST, SECOND], model="fake-small")
    guarded = guard(
        model,
        POLICY,
        ScriptedScorer([0.9, 0.2, 0.9, 0.9, 0.9]),
        audit=audit,
        return_result=True,
        sleep=lambda s: None,
    )
    result = guarded.invoke("What is 6 * 7?")
    assert result.status == "ok"
    spans = traced.finished()
    calls = [s for s in spans if s.name.startswith("guard")]
    attempts = [s for s in spans if s.name.startswith("chat")]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "guard fake-small"
    assert call.attributes is not None
    assert call.attributes["gen_ai.request.model"] == "fake-small"
    assert call.attributes["guardrail.policy"] == "traced"
    assert call.attributes["guardrail.status"] == "ok"
    assert call.attributes["guardrail.final_confidence"] == 0.9
    assert [a.attributes["guardrail.attempt"] for a in attempts if a.attributes] == [1, 2]
    for attempt in attempts:
        assert attempt.parent is not None
        assert attempt.parent.span_id == call.context.span_id
        assert attempt.context.trace_id == call.context.trace_id
        assert attempt.attributes is not None
        assert attempt.attributes["gen_ai.request.model"] == "fake-small"

    evaluations = [
        [dict(e.attributes or {}) for e in a.events if e.name == "gen_ai.evaluation.result"]
        for a in attempts
    ]
    assert [e["gen_ai.evaluation.name"] for e in evaluations[0]] == ["finece.process"] * 2
    assert [e["gen_ai.evaluation.score.value"] for e in evaluations[0]] == [0.9, 0.2]
    assert [e["gen_ai.evaluation.score.label"] for e in evaluations[0]] == ["continue", "retry"]
    assert evaluations[0][1]["gen_ai.evaluation.explanation"] == "low"
    assert evaluations[0][0]["gen_ai.evaluation.explanation"] == "default_action"
    assert [e["gen_ai.evaluation.name"] for e in evaluations[1]][-1] == "finece.outcome"
    actions = [dict(e.attributes or {}) for e in call.events if e.name == "guardrail.action"]
    assert [(a["guardrail.action"], a["guardrail.attempt"]) for a in actions] == [("retry", 1)]

    records = audit.read_run(str(result.run_id))
    assert records
    assert {r.trace_id for r in records} == {f"{call.context.trace_id:032x}"}
    span_ids = {f"{s.context.span_id:016x}": s.name for s in spans}
    kinds = {r.kind.value: span_ids[str(r.span_id)] for r in records}
    assert kinds["checkpoint"].startswith("chat")
    assert kinds["run_end"].startswith("guard")

    checkpoints = {
        p[0]["guardrail.stage"]: p[1].value for p in traced.points("guardrail.checkpoints")
    }
    assert checkpoints == {"process": 4, "outcome": 1}
    decisions = {p[0]["guardrail.action"]: p[1].value for p in traced.points("guardrail.decisions")}
    assert decisions == {"continue": 4, "retry": 1}
    latency = traced.points("guardrail.scorer.latency")
    assert sum(p[1].count for p in latency) == 5


class BrokenScorer(ScriptedScorer):
    def open_session(self, question: str) -> Any:
        raise ScorerUnavailableError("scorer down")


@pytest.mark.parametrize("mode", ["fail_open", "fail_closed"])
def test_scorer_failures_are_counted_by_outcome(traced: Traced, mode: str) -> None:
    model = FakeStreamingChatModel(responses=[SECOND])
    guarded = guard(model, {**POLICY, "on_error": mode}, BrokenScorer([0.9]), return_result=True)
    if mode == "fail_closed":
        with pytest.raises(GuardAborted):
            guarded.invoke("q")
    else:
        assert guarded.invoke("q").status == "ok"
    failures = {
        p[0]["guardrail.failure_mode"]: p[1].value
        for p in traced.points("guardrail.scorer.failures")
    }
    assert failures == {mode: 1}
    (call,) = [s for s in traced.finished() if s.name.startswith("guard")]
    assert call.attributes is not None
    status = call.attributes["guardrail.status"]
    assert status == ("aborted" if mode == "fail_closed" else "ok")
    assert (call.status.is_ok or call.status.status_code.name == "UNSET") == (mode == "fail_open")


def test_review_queue_depth_gauge(traced: Traced, tmp_path: Path) -> None:
    from guardrail.review import ReviewItem

    with SQLiteReviewQueue(tmp_path / "r.db") as store:
        for queue in ("a", "a", "b"):
            store.enqueue(ReviewItem(question="q", queue=queue))
        traced.telemetry.observe_review_queue(store)
        depth = {
            p[0]["guardrail.review.queue"]: p[1].value
            for p in traced.points("guardrail.review.queue.depth")
        }
        assert depth == {"a": 2, "b": 1}
        traced.telemetry.forget_review_queue(store)


def test_environment_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    import guardrail.telemetry.instruments as instruments

    monkeypatch.setattr(instruments, "_current", None)
    monkeypatch.setattr(instruments, "_env_checked", False)
    monkeypatch.setenv("GUARDRAIL_OTEL", "1")
    try:
        assert isinstance(current_telemetry(), Telemetry)
    finally:
        disable_telemetry()
