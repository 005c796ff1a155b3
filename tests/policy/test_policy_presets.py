"""Shipped presets validate, carry the schema comment, and behave as documented."""

import json
from pathlib import Path

import pytest
import yaml

from guardrail.errors import GuardrailConfigError
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import (
    Policy,
    PolicyEngine,
    RunContext,
    list_presets,
    load_preset,
    schema_json,
)

REPO = Path(__file__).resolve().parents[2]
PRESETS = REPO / "policies"  # the wheel ships them as guardrail/_presets (tests/test_wheel.py)


def event(index: int, confidence: float, stage: Stage = Stage.PROCESS) -> CheckpointEvent:
    return CheckpointEvent(index, stage, "test", index * 20, 0, 0, confidence, confidence)


def test_presets_are_listed() -> None:
    assert list_presets() == ["default", "math-agent", "observe", "strict"]


@pytest.mark.parametrize("name", ["default", "math-agent", "observe", "strict"])
def test_preset_validates_and_points_at_the_schema(name: str) -> None:
    policy = load_preset(name)
    assert policy.name == name
    text = (PRESETS / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=./policy.schema.json\n")
    assert Policy.from_file(REPO / "policies" / f"{name}.yaml") == policy


def test_shipped_schema_is_up_to_date() -> None:
    shipped = (PRESETS / "policy.schema.json").read_text(encoding="utf-8")
    assert shipped == schema_json(), (
        "policies/policy.schema.json is stale: "
        "run `python -m guardrail policy schema > policies/policy.schema.json`"
    )
    schema = json.loads(shipped)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(Policy.model_fields)


def test_unknown_preset_suggests_the_closest_name() -> None:
    with pytest.raises(GuardrailConfigError) as info:
        load_preset("stric")
    (issue,) = info.value.issues
    assert issue.suggestion == "strict"
    assert issue.expected == "one of default, math-agent, observe, strict"
    with pytest.raises(GuardrailConfigError):
        load_preset("../pyproject")


def test_default_preset_behaviour() -> None:
    policy = load_preset("default")
    assert policy.on_error == "fail_closed"
    assert [s.type for s in policy.checkpoints.strategies] == ["paragraph"]
    engine = PolicyEngine(policy)
    ctx = RunContext(model="small")
    assert engine.decide(event(0, 0.1, Stage.QUESTION), ctx).action_type == "flag"
    assert engine.decide(event(1, 0.25), ctx).action_type == "continue"  # one low is not a streak
    streak = [event(0, 0.9, Stage.QUESTION), event(1, 0.25)]
    assert engine.decide(event(2, 0.2), ctx, streak).action_type == "retry"
    late = RunContext(attempt=3, model="small")
    assert engine.decide(event(2, 0.2), late, streak).action_type == "escalate"
    outcome = engine.decide(event(3, 0.4, Stage.OUTCOME), ctx)
    assert outcome.action_type == "human_review"
    assert outcome.action.mode == "provisional"  # type: ignore[union-attr]
    assert engine.decide(event(3, 0.6, Stage.OUTCOME), ctx).action_type == "continue"


def test_observe_preset_never_interrupts() -> None:
    policy = load_preset("observe")
    assert policy.on_error == "fail_open"
    actions = {rule.action.type for rule in policy.rules} | {policy.default_action.type}
    assert actions <= {"flag", "continue"}
    engine = PolicyEngine(policy)
    assert engine.decide_error(TimeoutError(), None, RunContext()).action_type == "continue"


def test_strict_preset_fails_closed_and_blocks_review() -> None:
    engine = PolicyEngine(load_preset("strict"))
    decision = engine.decide(event(5, 0.6, Stage.OUTCOME), RunContext())
    assert decision.action_type == "human_review"
    assert decision.action.mode == "blocking"  # type: ignore[union-attr]
    assert engine.decide_error(TimeoutError(), None, RunContext()).action_type == "abort"


def test_math_agent_preset_uses_tags() -> None:
    engine = PolicyEngine(load_preset("math-agent"))
    outcome = event(4, 0.7, Stage.OUTCOME)
    graded = engine.decide(outcome, RunContext(tags=frozenset({"graded"})))
    assert (graded.rule, graded.action_type) == ("graded-answer", "human_review")
    assert engine.decide(outcome, RunContext()).action_type == "continue"


@pytest.mark.parametrize("name", ["default", "math-agent", "observe", "strict"])
def test_editors_accept_the_presets_with_the_json_schema(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(Policy.json_schema())
    document = yaml.safe_load((PRESETS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert [error.message for error in validator.iter_errors(document)] == []


@pytest.mark.parametrize(
    "document",
    [
        {"nmae": "x"},
        {"rules": [{"name": "r", "when": {"confidence_below": 1.5}, "action": "abort"}]},
        {"rules": [{"name": "r", "when": {"stage": "process"}, "action": "escalte"}]},
        {
            "rules": [
                {
                    "name": "r",
                    "when": {"stage": "process"},
                    "action": {"type": "retry", "max_attempts": 0},
                }
            ]
        },
    ],
)
def test_the_json_schema_rejects_what_the_loader_rejects(document: dict[str, object]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(Policy.json_schema())
    assert list(validator.iter_errors(document))
    with pytest.raises(GuardrailConfigError):
        Policy.from_dict(document)
