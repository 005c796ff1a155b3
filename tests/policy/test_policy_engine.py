"""PolicyEngine: first match wins, exhaustion, failure modes, emission of every decision."""

import json
import logging

import pytest

from guardrail.errors import ScorerTimeoutError
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import (
    DECISION_LOGGER_NAME,
    AbortAction,
    ContinueAction,
    Decision,
    Policy,
    PolicyEngine,
    RunContext,
)

POLICY = """
name: engine-test
rules:
  - name: low-question
    when: {stage: question, confidence_below: 0.2}
    action: {type: flag, label: doubtful}
  - name: very-low
    when: {stage: process, confidence_below: 0.1}
    action: {type: abort, message: stop}
  - name: low-streak
    when: {stage: process, consecutive_low: {count: 2, below: 0.3}}
    action:
      type: retry
      max_attempts: 1
      on_exhausted:
        type: escalate
        targets: [mid, big]
        on_exhausted: {type: human_review, mode: blocking}
  - name: low
    when: {stage: process, confidence_below: 0.3}
    action: {type: flag, label: low}
default_action: continue
"""


def event(
    index: int, confidence: float, stage: Stage = Stage.PROCESS, revised: float | None = None
) -> CheckpointEvent:
    return CheckpointEvent(
        index=index,
        stage=stage,
        reason="test",
        token_index=index * 10,
        char_start=0,
        char_end=0,
        confidence=confidence,
        revised=confidence if revised is None else revised,
    )


@pytest.fixture
def engine() -> PolicyEngine:
    return PolicyEngine(Policy.from_text(POLICY))


@pytest.mark.parametrize(
    ("current", "history", "context", "rule", "action_type"),
    [
        (event(0, 0.1, Stage.QUESTION), [], RunContext(), "low-question", "flag"),
        (event(0, 0.5, Stage.QUESTION), [], RunContext(), None, "continue"),
        (event(1, 0.05), [], RunContext(), "very-low", "abort"),  # first match wins
        (event(1, 0.25), [], RunContext(), "low", "flag"),
        (event(2, 0.25), [event(1, 0.2)], RunContext(), "low-streak", "retry"),
        (event(2, 0.25), [event(1, 0.2)], RunContext(attempt=2), "low-streak", "escalate"),
        (
            event(2, 0.25),
            [event(1, 0.2)],
            RunContext(attempt=2, model="big"),
            "low-streak",
            "human_review",
        ),
        (event(2, 0.9), [event(1, 0.2)], RunContext(), None, "continue"),
        (event(1, 0.25, Stage.OUTCOME), [], RunContext(), None, "continue"),
    ],
)
def test_decisions(
    engine: PolicyEngine,
    current: CheckpointEvent,
    history: list[CheckpointEvent],
    context: RunContext,
    rule: str | None,
    action_type: str,
) -> None:
    decision = engine.decide(current, context, history)
    assert (decision.rule, decision.action_type) == (rule, action_type)
    assert decision.event is current
    assert decision.context is context
    assert decision.failure_mode is None
    assert decision.reasons


def test_exhausted_retry_and_escalation_are_explained(engine: PolicyEngine) -> None:
    history = [event(1, 0.2)]
    escalate = engine.decide(event(2, 0.2), RunContext(attempt=2, model="small"), history)
    assert escalate.reasons[-2:] == (
        "retry exhausted: attempt 2 > max_attempts 1; falling back to escalate",
        "escalate to 'mid'",
    )
    review = engine.decide(event(2, 0.2), RunContext(attempt=2, model="big"), history)
    assert review.action.type == "human_review"
    assert review.action.mode == "blocking"
    assert "escalation exhausted" in review.reasons[-1]


def test_history_is_filtered_and_ordered_by_index(engine: PolicyEngine) -> None:
    current = event(2, 0.25)
    # the current event repeated in history, and a later event, must not count
    polluted = [event(3, 0.1), current, event(1, 0.9)]
    assert engine.decide(current, RunContext(), polluted).rule == "low"
    shuffled = [event(1, 0.2), event(0, 0.5, Stage.QUESTION)]
    assert engine.decide(current, RunContext(), shuffled).rule == "low-streak"


def test_default_decision_reasons(engine: PolicyEngine) -> None:
    decision = engine.decide(event(1, 0.75, revised=0.7), RunContext())
    assert decision.is_default
    assert decision.reasons == (
        "no rule matched at the process checkpoint (confidence 0.75, revised 0.7)",
    )


@pytest.mark.parametrize(
    ("on_error", "action", "fragment"),
    [
        ("fail_closed", AbortAction, "fail_closed: aborting"),
        ("fail_open", ContinueAction, "fail_open: continuing"),
    ],
)
def test_decide_error_applies_on_error(on_error: str, action: type, fragment: str) -> None:
    engine = PolicyEngine(Policy.from_dict({"name": "p", "on_error": on_error}))
    decision = engine.decide_error(ScorerTimeoutError("took 3 s"), None, RunContext())
    assert isinstance(decision.action, action)
    assert decision.failure_mode == on_error
    assert decision.error == "ScorerTimeoutError: took 3 s"
    assert decision.rule is None
    assert not decision.is_default
    assert "retryable: yes" in decision.reasons[0]
    assert fragment in decision.reasons[1]
    assert decision.to_dict()["event"] is None


@pytest.mark.parametrize(
    ("confidence", "revised"),
    [(float("nan"), 0.5), (0.5, float("nan")), (1.5, 1.5), (-0.1, 0.2), (float("inf"), 0.1)],
)
def test_invalid_confidence_is_a_scorer_failure(confidence: float, revised: float) -> None:
    engine = PolicyEngine(Policy.from_dict({"name": "p", "on_error": "fail_closed"}))
    decision = engine.decide(event(1, confidence, revised=revised), RunContext())
    assert decision.failure_mode == "fail_closed"
    assert decision.action.type == "abort"
    assert decision.error is not None
    assert "ScorerUnavailableError" in decision.error


def test_every_decision_is_logged_and_passed_to_the_callback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Decision] = []
    engine = PolicyEngine(Policy.from_text(POLICY), on_decision=seen.append)
    with caplog.at_level(logging.INFO, logger=DECISION_LOGGER_NAME):
        first = engine.decide(event(1, 0.05), RunContext(model="m", tags=frozenset({"t"})))
        second = engine.decide(event(2, 0.9), RunContext())
        third = engine.decide_error(RuntimeError("boom"), event(3, 0.5), RunContext())
    assert seen == [first, second, third]
    records = [r for r in caplog.records if r.name == DECISION_LOGGER_NAME]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO, logging.WARNING]
    payloads = [r.__dict__["decision"] for r in records]
    assert payloads == [first.to_dict(), second.to_dict(), third.to_dict()]
    assert payloads[0]["rule"] == "very-low"
    assert payloads[0]["action"] == {"type": "abort", "message": "stop", "fallback_answer": None}
    assert payloads[0]["context"]["tags"] == ["t"]
    assert payloads[2]["failure_mode"] == "fail_closed"
    json.dumps(payloads)  # audit records are JSON-ready


def test_evaluate_does_not_emit(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Decision] = []
    engine = PolicyEngine(Policy.from_text(POLICY), on_decision=seen.append)
    with caplog.at_level(logging.DEBUG, logger=DECISION_LOGGER_NAME):
        decision = engine.evaluate(event(1, 0.05), RunContext())
    assert decision.rule == "very-low"
    assert seen == []
    assert not [r for r in caplog.records if r.name == DECISION_LOGGER_NAME]


def test_callback_errors_propagate(engine: PolicyEngine) -> None:
    def broken(decision: Decision) -> None:
        raise RuntimeError("audit sink down")

    engine = PolicyEngine(engine.policy, on_decision=broken)
    with pytest.raises(RuntimeError, match="audit sink down"):
        engine.decide(event(1, 0.5), RunContext())


def test_decisions_are_frozen(engine: PolicyEngine) -> None:
    decision = engine.decide(event(1, 0.5), RunContext())
    with pytest.raises(AttributeError):
        decision.rule = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"attempt": 0}, ValueError),
        ({"attempt": True}, ValueError),
        ({"max_tokens": 0}, ValueError),
        ({"tags": "math"}, TypeError),
    ],
)
def test_run_context_validates(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        RunContext(**kwargs)  # type: ignore[arg-type]


def test_run_context_is_immutable_and_copies_inputs() -> None:
    metadata = {"tenant": "acme"}
    context = RunContext(tags=["a", "b"], metadata=metadata)  # type: ignore[arg-type]
    metadata["tenant"] = "changed"
    assert context.metadata["tenant"] == "acme"
    assert context.tags == frozenset({"a", "b"})
    with pytest.raises(TypeError):
        context.metadata["x"] = 1  # type: ignore[index]
    assert context.to_dict()["tags"] == ["a", "b"]
