"""Table-driven tests for every condition kind and the all/any/not combinators."""

from collections.abc import Sequence
from typing import Any

import pytest

from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import Condition, RunContext
from guardrail.policy.conditions import Facts, evaluate


def event(
    index: int = 1,
    stage: Stage = Stage.PROCESS,
    confidence: float = 0.5,
    revised: float | None = None,
    token_index: int = 10,
) -> CheckpointEvent:
    return CheckpointEvent(
        index=index,
        stage=stage,
        reason="test",
        token_index=token_index,
        char_start=0,
        char_end=0,
        confidence=confidence,
        revised=confidence if revised is None else revised,
    )


def holds(
    when: dict[str, Any],
    current: CheckpointEvent,
    context: RunContext | None = None,
    history: Sequence[CheckpointEvent] = (),
) -> bool:
    facts = Facts(event=current, history=tuple(history), context=context or RunContext())
    return evaluate(Condition.model_validate(when), facts).holds


def series(*values: float) -> list[CheckpointEvent]:
    """Process checkpoints 1..n with these confidences (raw == revised)."""
    return [event(index=i + 1, confidence=v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("when", "stage", "expected"),
    [
        ({"stage": "process"}, Stage.PROCESS, True),
        ({"stage": "process"}, Stage.OUTCOME, False),
        ({"stage": ["question", "outcome"]}, Stage.OUTCOME, True),
        ({"stage": ["question", "outcome"]}, Stage.PROCESS, False),
        ({"stage": {"stages": ["question"]}}, Stage.QUESTION, True),
    ],
)
def test_stage(when: dict[str, Any], stage: Stage, expected: bool) -> None:
    assert holds(when, event(stage=stage)) is expected


@pytest.mark.parametrize(
    ("when", "raw", "revised", "expected"),
    [
        ({"confidence_below": 0.3}, 0.29, 0.29, True),
        ({"confidence_below": 0.3}, 0.3, 0.3, False),  # strict
        ({"confidence_below": 0.3}, 0.1, 0.5, False),  # revised by default
        ({"confidence_below": {"value": 0.3, "source": "raw"}}, 0.1, 0.5, True),
        ({"confidence_below": 0}, 0.0, 0.0, False),
        ({"confidence_above": 0.8}, 0.81, 0.81, True),
        ({"confidence_above": 0.8}, 0.8, 0.8, False),  # strict
        ({"confidence_above": {"value": 0.8, "source": "raw"}}, 0.9, 0.1, True),
        ({"confidence_above": 1}, 1.0, 1.0, False),
        # a band: both keys must hold
        ({"confidence_above": 0.2, "confidence_below": 0.4}, 0.3, 0.3, True),
        ({"confidence_above": 0.2, "confidence_below": 0.4}, 0.5, 0.5, False),
    ],
)
def test_confidence_thresholds(
    when: dict[str, Any], raw: float, revised: float, expected: bool
) -> None:
    assert holds(when, event(confidence=raw, revised=revised)) is expected


@pytest.mark.parametrize(
    ("delta", "history", "current", "expected"),
    [
        (0.3, [0.7], 0.4, True),  # 0.7 - 0.4 is 0.29999... in floats: still a drop of 0.3
        (0.3, [0.7], 0.41, False),
        (0.2, [0.5, 0.9, 0.6], 0.69, True),  # running max 0.9, not the last value
        (0.2, [0.5, 0.9, 0.6], 0.71, False),
        (0.1, [], 0.1, False),  # no history: the max is the current value
        (0.1, [0.2], 0.9, False),  # a rise is not a drop
        (0.5, [float("nan"), 0.9], 0.3, True),  # non-finite history values are ignored
    ],
)
def test_drop_from_running_max(
    delta: float, history: list[float], current: float, expected: bool
) -> None:
    past = series(*history)
    now = event(index=len(past) + 1, confidence=current)
    assert holds({"drop_from_max": delta}, now, history=past) is expected


def test_drop_from_max_ignores_the_question_level_estimate() -> None:
    question = event(index=0, stage=Stage.QUESTION, confidence=0.95)
    assert not holds({"drop_from_max": 0.3}, event(index=1, confidence=0.5), history=[question])
    assert holds({"drop_from_max": 0.3}, event(index=2, confidence=0.5), history=series(0.9))


def test_drop_from_max_uses_the_chosen_source() -> None:
    past = [event(index=1, confidence=0.9, revised=0.5)]
    now = event(index=2, confidence=0.4, revised=0.4)
    assert holds({"drop_from_max": {"delta": 0.4, "source": "raw"}}, now, history=past)
    assert not holds({"drop_from_max": 0.4}, now, history=past)


@pytest.mark.parametrize(
    ("count", "history", "current", "expected"),
    [
        (2, [0.2], 0.1, True),
        (2, [0.4], 0.1, False),
        (2, [], 0.1, False),
        (1, [], 0.1, True),
        (3, [0.1, 0.2, 0.9, 0.1, 0.2], 0.1, True),
        (3, [0.1, 0.2, 0.9, 0.2], 0.1, False),  # the streak restarts after 0.9
        (2, [0.1], 0.3, False),  # the threshold is strict
    ],
)
def test_consecutive_low(count: int, history: list[float], current: float, expected: bool) -> None:
    past = series(*history)
    now = event(index=len(past) + 1, confidence=current)
    when = {"consecutive_low": {"count": count, "below": 0.3}}
    assert holds(when, now, history=past) is expected


def test_consecutive_low_counts_answer_checkpoints_only() -> None:
    question = event(index=0, stage=Stage.QUESTION, confidence=0.1)
    when = {"consecutive_low": {"count": 2, "below": 0.3}}
    assert not holds(when, event(index=1, confidence=0.1), history=[question])
    assert holds(when, event(index=2, confidence=0.1), history=[question, *series(0.2)])


@pytest.mark.parametrize(
    ("when", "stage", "token_index", "max_tokens", "expected"),
    [
        ({"min_tokens": 10}, Stage.PROCESS, 10, None, True),
        ({"min_tokens": 11}, Stage.PROCESS, 10, None, False),
        ({"min_tokens": {"tokens": 0}}, Stage.QUESTION, 0, None, True),
        ({"min_fraction_seen": 0.5}, Stage.PROCESS, 50, 100, True),
        ({"min_fraction_seen": 0.5}, Stage.PROCESS, 49, 100, False),
        ({"min_fraction_seen": 0.5}, Stage.PROCESS, 500, None, False),  # unknown limit
        ({"min_fraction_seen": 1.0}, Stage.PROCESS, 900, 100, True),  # clipped to 1
        ({"min_fraction_seen": 1.0}, Stage.OUTCOME, 3, None, True),  # outcome: all seen
        ({"min_fraction_seen": 0.1}, Stage.QUESTION, 0, 100, False),  # question: none seen
    ],
)
def test_progress(
    when: dict[str, Any],
    stage: Stage,
    token_index: int,
    max_tokens: int | None,
    expected: bool,
) -> None:
    context = RunContext(max_tokens=max_tokens)
    assert holds(when, event(stage=stage, token_index=token_index), context) is expected


@pytest.mark.parametrize(
    ("when", "context", "expected"),
    [
        ({"attempt": 1}, RunContext(attempt=1), True),
        ({"attempt": 1}, RunContext(attempt=2), False),
        ({"attempt": {"min": 2}}, RunContext(attempt=5), True),
        ({"attempt": {"min": 2}}, RunContext(attempt=1), False),
        ({"attempt": {"max": 2}}, RunContext(attempt=2), True),
        ({"attempt": {"min": 2, "max": 3}}, RunContext(attempt=4), False),
        ({"model": "gpt-4o*"}, RunContext(model="gpt-4o-mini"), True),
        ({"model": "gpt-4o*"}, RunContext(model="GPT-4o"), False),  # case-sensitive
        ({"model": ["claude-*", "ollama/*"]}, RunContext(model="ollama/llama3"), True),
        ({"model": "smollm"}, RunContext(model="smollm2"), False),
        ({"tags": ["math"]}, RunContext(tags=frozenset({"math", "x"})), True),
        ({"tags": ["math", "graded"]}, RunContext(tags=frozenset({"math"})), False),
        ({"tags": "math"}, RunContext(tags=frozenset({"math"})), True),
        ({"tags": {"any_of": ["a", "b"]}}, RunContext(tags=frozenset({"b"})), True),
        ({"tags": {"any_of": ["a", "b"]}}, RunContext(tags=frozenset({"c"})), False),
        ({"tags": {"none_of": ["prod"]}}, RunContext(tags=frozenset({"dev"})), True),
        ({"tags": {"none_of": ["prod"]}}, RunContext(tags=frozenset({"prod"})), False),
        ({"metadata": {"tenant": "acme"}}, RunContext(metadata={"tenant": "acme"}), True),
        ({"metadata": {"tenant": "acme"}}, RunContext(metadata={"tenant": "other"}), False),
        ({"metadata": {"tenant": "acme"}}, RunContext(), False),
        ({"metadata": {"tier": ["gold", "silver"]}}, RunContext(metadata={"tier": "silver"}), True),
        ({"metadata": {"level": 3}}, RunContext(metadata={"level": 3}), True),
        ({"metadata": {"flag": True}}, RunContext(metadata={"flag": 1}), False),  # bool is not int
        ({"metadata": {"level": 1}}, RunContext(metadata={"level": True}), False),
        ({"metadata": {"a": 1, "b": 2}}, RunContext(metadata={"a": 1, "b": 3}), False),
    ],
)
def test_run_context(when: dict[str, Any], context: RunContext, expected: bool) -> None:
    assert holds(when, event(), context) is expected


@pytest.mark.parametrize(
    ("when", "confidence", "expected"),
    [
        ({"all": [{"stage": "process"}, {"confidence_below": 0.5}]}, 0.4, True),
        ({"all": [{"stage": "process"}, {"confidence_below": 0.5}]}, 0.6, False),
        ({"any": [{"stage": "outcome"}, {"confidence_below": 0.5}]}, 0.4, True),
        ({"any": [{"stage": "outcome"}, {"confidence_below": 0.5}]}, 0.6, False),
        ({"not": {"confidence_below": 0.5}}, 0.6, True),
        ({"not": {"confidence_below": 0.5}}, 0.4, False),
        ({"not": {"not": {"stage": "process"}}}, 0.4, True),
        # sibling keys are and-ed with the combinators
        ({"stage": "outcome", "any": [{"confidence_below": 0.5}]}, 0.4, False),
        (
            {"stage": "process", "not": {"stage": "outcome"}, "any": [{"confidence_above": 0.1}]},
            0.4,
            True,
        ),
    ],
)
def test_combinators(when: dict[str, Any], confidence: float, expected: bool) -> None:
    assert holds(when, event(confidence=confidence)) is expected


def test_reasons_explain_what_held() -> None:
    facts = Facts(event=event(confidence=0.25), history=(), context=RunContext())
    when = Condition.model_validate({"stage": "process", "confidence_below": 0.3})
    verdict = evaluate(when, facts)
    assert verdict.holds
    assert verdict.reasons == ("stage is process", "revised process confidence 0.25 < 0.3")
    failing = evaluate(Condition.model_validate({"stage": "outcome"}), facts)
    assert failing.reasons == ("stage is process, not outcome",)


def test_shorthand_and_full_forms_are_equal() -> None:
    short = Condition.model_validate(
        {"stage": "process", "confidence_below": 0.3, "attempt": 2, "model": "m*", "tags": ["t"]}
    )
    full = Condition.model_validate(
        {
            "stage": {"stages": ["process"]},
            "confidence_below": {"value": 0.3, "source": "revised"},
            "attempt": {"min": 2, "max": 2},
            "model": {"patterns": ["m*"]},
            "tags": {"all_of": ["t"]},
        }
    )
    assert short == full
