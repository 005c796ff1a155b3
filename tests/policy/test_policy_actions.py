"""Table-driven tests for every action type and its parameters."""

from typing import Any

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.policy import (
    AbortAction,
    Backoff,
    ContinueAction,
    EscalateAction,
    FlagAction,
    HumanReviewAction,
    Policy,
    RetryAction,
    SelfCorrectAction,
)


def action_of(action: Any) -> Any:
    policy = Policy.from_dict(
        {"rules": [{"name": "r", "when": {"stage": "process"}, "action": action}]}
    )
    return policy.rules[0].action


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("abort", AbortAction()),
        ({"type": "abort", "message": "no"}, AbortAction(message="no")),
        (
            {"type": "abort", "fallback_answer": "I don't know."},
            AbortAction(fallback_answer="I don't know."),
        ),
        ("retry", RetryAction()),
        (
            {"type": "retry", "max_attempts": 3, "temperature": 0.7},
            RetryAction(max_attempts=3, temperature=0.7),
        ),
        (
            {
                "type": "retry",
                "backoff": {"initial_s": 1, "max_s": 10, "multiplier": 3, "jitter": 0},
            },
            RetryAction(backoff=Backoff(initial_s=1.0, max_s=10.0, multiplier=3.0, jitter=0.0)),
        ),
        (
            {"type": "retry", "on_exhausted": "flag"},
            RetryAction(on_exhausted=FlagAction()),
        ),
        (
            {"type": "escalate", "targets": ["gpt-4o-mini", "gpt-4o"]},
            EscalateAction(targets=["gpt-4o-mini", "gpt-4o"]),
        ),
        (
            {"type": "escalate", "targets": ["big"], "on_exhausted": {"type": "human_review"}},
            EscalateAction(targets=["big"], on_exhausted=HumanReviewAction()),
        ),
        ("self_correct", SelfCorrectAction()),
        (
            {
                "type": "self_correct",
                "feedback_template": "Fix {least_confident_span}",
                "max_rounds": 3,
            },
            SelfCorrectAction(feedback_template="Fix {least_confident_span}", max_rounds=3),
        ),
        ("human_review", HumanReviewAction(queue="default", mode="provisional")),
        (
            {"type": "human_review", "queue": "legal", "mode": "blocking"},
            HumanReviewAction(queue="legal", mode="blocking"),
        ),
        ("flag", FlagAction(label="low-confidence", severity="warning")),
        (
            {"type": "flag", "label": "odd", "severity": "critical"},
            FlagAction(label="odd", severity="critical"),
        ),
        ("continue", ContinueAction()),
        ({"type": "continue"}, ContinueAction()),
    ],
)
def test_valid_actions(given: Any, expected: Any) -> None:
    assert action_of(given) == expected


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ({"type": "abort", "message": ""}, "at least 1 character"),
        ({"type": "abort", "reason": "x"}, "unknown key 'reason'"),
        ({"type": "retry", "max_attempts": 0}, ">= 1"),
        ({"type": "retry", "max_attempts": 1.5}, "integer"),
        ({"type": "retry", "max_attempts": True}, "integer"),
        ({"type": "retry", "backoff": {"multiplier": 0.5}}, ">= 1"),
        ({"type": "retry", "backoff": {"jitter": 2}}, "<= 1"),
        ({"type": "retry", "backoff": {"initial_s": float("nan")}}, "finite"),
        ({"type": "retry", "backoff": {"initial_s": 9, "max_s": 1}}, "max_s >= initial_s"),
        ({"type": "retry", "temperature": -0.1}, ">= 0"),
        ({"type": "retry", "on_exhausted": {"type": "retry"}}, "unknown type 'retry'"),
        ({"type": "escalate", "targets": []}, "at least 1 item"),
        ({"type": "escalate", "targets": [""]}, "at least 1 character"),
        ({"type": "escalate", "targets": "gpt-4o"}, "a list"),
        ({"type": "escalate", "targets": ["a"], "on_exhausted": "escalate"}, "unknown type"),
        ({"type": "self_correct", "feedback_template": "{nope}"}, "unknown placeholder {nope}"),
        ({"type": "self_correct", "feedback_template": "{0}"}, "unknown placeholder {0}"),
        ({"type": "self_correct", "feedback_template": "{}"}, "unknown placeholder {}"),
        ({"type": "self_correct", "feedback_template": "{answer!z}"}, "template"),
        ({"type": "self_correct", "max_rounds": 0}, ">= 1"),
        ({"type": "human_review", "mode": "async"}, "'blocking' or 'provisional'"),
        ({"type": "human_review", "queue": ""}, "at least 1 character"),
        ({"type": "flag", "severity": "fatal"}, "'info', 'warning' or 'critical'"),
        ({"type": "continue", "label": "x"}, "unknown key 'label'"),
        ({"type": "wait"}, "unknown type 'wait'"),
        ({}, "'type' key"),
        (3, "a mapping"),
    ],
)
def test_invalid_actions(given: Any, fragment: str) -> None:
    with pytest.raises(GuardrailConfigError) as info:
        action_of(given)
    assert fragment in str(info.value)
    assert all(issue.key_path.startswith("rules[0].action") for issue in info.value.issues)


@pytest.mark.parametrize(
    ("backoff", "retry", "bounds"),
    [
        (Backoff(initial_s=0.5, max_s=8, multiplier=2, jitter=0.1), 1, (0.5, 0.55)),
        (Backoff(initial_s=0.5, max_s=8, multiplier=2, jitter=0.1), 3, (2.0, 2.2)),
        (Backoff(initial_s=0.5, max_s=8, multiplier=2, jitter=0.0), 10, (8.0, 8.0)),
        (Backoff(initial_s=1, max_s=60, multiplier=1, jitter=0.5), 1000, (1.0, 1.5)),
        (Backoff(initial_s=1, max_s=60, multiplier=16, jitter=0), 10_000, (60.0, 60.0)),
    ],
)
def test_backoff_delay_bounds(backoff: Backoff, retry: int, bounds: tuple[float, float]) -> None:
    assert backoff.delay_bounds(retry) == pytest.approx(bounds)


def test_backoff_rejects_retry_zero() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        Backoff().delay_bounds(0)


def test_self_correct_renders_every_placeholder() -> None:
    action = SelfCorrectAction(
        feedback_template="Q={question} A={answer} c={confidence:.2f} "
        "span={least_confident_span} {{x}}"
    )
    text = action.render(question="2+2?", answer="5", confidence=0.123, least_confident_span="5")
    assert text == "Q=2+2? A=5 c=0.12 span=5 {x}"


def test_default_feedback_template_is_valid_and_uses_all_placeholders() -> None:
    text = SelfCorrectAction().render(
        question="QQ", answer="AA", confidence=0.25, least_confident_span="SS"
    )
    assert all(part in text for part in ("QQ", "AA", "0.25", "SS"))


@pytest.mark.parametrize(
    ("targets", "current", "expected"),
    [
        (["a", "b", "c"], "small", "a"),
        (["a", "b", "c"], "a", "b"),
        (["a", "b", "c"], "b", "c"),
        (["a", "b", "c"], "c", None),
        (["a"], "", "a"),
    ],
)
def test_escalate_next_target(targets: list[str], current: str, expected: str | None) -> None:
    assert EscalateAction(targets=targets).next_target(current) == expected


@pytest.mark.parametrize(("attempt", "exhausted"), [(1, False), (2, False), (3, True), (9, True)])
def test_retry_exhaustion_counts_retries_after_the_first_attempt(
    attempt: int, exhausted: bool
) -> None:
    assert RetryAction(max_attempts=2).exhausted(attempt) is exhausted


def test_actions_are_immutable() -> None:
    action = RetryAction()
    with pytest.raises(ValueError, match="frozen"):
        action.max_attempts = 5  # type: ignore[misc]


# ------------------------------------------------------- type lists derived from the union
def test_action_type_lists_come_from_the_action_union() -> None:
    from typing import get_args

    from guardrail.policy.actions import (
        ACTION_TYPES,
        ATTEMPT_ACTION_TYPES,
        INTERRUPTING_ACTION_TYPES,
        Action,
        FallbackAction,
        TerminalAction,
        action_classes,
        action_type_names,
    )
    from guardrail.runtime.records import AttemptKind
    from guardrail.runtime.signals import _SIGNALS, INTERRUPTING_ACTIONS

    assert ACTION_TYPES == (
        "abort",
        "retry",
        "escalate",
        "self_correct",
        "human_review",
        "flag",
        "continue",
    )
    assert [cls.__name__ for cls in action_classes(Action)][:2] == ["AbortAction", "RetryAction"]
    assert "retry" not in action_type_names(FallbackAction)  # no retry after a retry
    assert set(action_type_names(TerminalAction)) == set(ACTION_TYPES) - {"retry", "escalate"}
    assert set(ACTION_TYPES) - {"flag", "continue"} == INTERRUPTING_ACTION_TYPES
    assert INTERRUPTING_ACTIONS == INTERRUPTING_ACTION_TYPES == set(_SIGNALS)
    assert get_args(AttemptKind)[1:] == ATTEMPT_ACTION_TYPES  # the kinds after "initial"


def test_action_classes_rejects_what_is_not_an_action_union() -> None:
    from guardrail.policy.actions import action_classes

    with pytest.raises(TypeError, match="not an action model"):
        action_classes(int | str)


def test_the_schema_still_offers_bare_action_names() -> None:
    schema = Policy.json_schema()
    text = str(schema)
    for name in ("self_correct", "human_review", "continue"):
        assert f"'{name}'" in text
    assert action_of("continue") == ContinueAction()
    with pytest.raises(GuardrailConfigError):
        action_of("retyr")
