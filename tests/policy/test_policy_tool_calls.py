"""Rules that name the tool_call stage and tools: ``stage: tool_call``, ``tool: [...]``."""

from __future__ import annotations

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import Policy, PolicyEngine, RunContext

POLICY = """
name: tools
rules:
  - name: risky-tools
    when: {stage: tool_call, tool: [send_email, "delete_*"], confidence_below: 0.8}
    action: {type: human_review, mode: blocking}
  - name: any-tool
    when: {stage: tool_call, confidence_below: 0.3}
    action: {type: abort, message: "Do not call tools you are unsure of."}
default_action: continue
"""


def judged(confidence: float, tool: str | None, stage: Stage = Stage.TOOL_CALL) -> tuple[str, ...]:
    engine = PolicyEngine(Policy.from_text(POLICY))
    event = CheckpointEvent(1, stage, "tool_call", 5, 0, 5, confidence, confidence)
    decision = engine.decide(event, RunContext(tool=tool))
    return decision.action.type, decision.rule or "", *decision.reasons


def test_a_named_tool_matches_by_glob() -> None:
    assert judged(0.5, "send_email")[:2] == ("human_review", "risky-tools")
    assert judged(0.5, "delete_file")[:2] == ("human_review", "risky-tools")
    assert "tool 'delete_file' matches" in " ".join(judged(0.5, "delete_file"))


def test_other_tools_fall_through_to_the_next_rule() -> None:
    assert judged(0.5, "search")[:2] == ("continue", "")
    assert judged(0.2, "search")[:2] == ("abort", "any-tool")


def test_tool_conditions_never_hold_for_answer_checkpoints() -> None:
    assert judged(0.1, None, Stage.PROCESS)[:2] == ("continue", "")


def test_a_bad_tool_condition_is_a_located_config_error() -> None:
    with pytest.raises(GuardrailConfigError, match="tool"):
        Policy.from_text("name: x\nrules:\n  - name: r\n    when: {tool: 3}\n    action: abort\n")


def test_the_tool_stage_and_condition_round_trip() -> None:
    policy = Policy.from_text(POLICY)
    dumped = policy.rules[0].when.model_dump()
    assert dumped["stage"] == {"stages": ["tool_call"]}
    assert dumped["tool"] == {"patterns": ["send_email", "delete_*"]}
    assert RunContext(tool="send_email").to_dict()["tool"] == "send_email"
