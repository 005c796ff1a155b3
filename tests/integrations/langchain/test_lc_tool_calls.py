"""Tool calls the guard can hold: a scripted tool-calling model under ``stage: tool_call`` rules.

A held call is approved, edited or rejected in LangChain's human-in-the-loop decision format;
a refused call never runs and the model is told; an allowed call runs and is recorded; a
retry decision generates the turn again.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from guardrail.audit import JsonlAuditLog
from guardrail.errors import GuardrailConfigError
from guardrail.integrations.langchain import METADATA_KEY, FineCEMiddleware
from guardrail.testing import ScriptedScorer, ScriptedToolCallingChat

SENT: list[dict[str, Any]] = []
QUESTION = "Email Alice that the report is late."

POLICY = {
    "name": "tools",
    "checkpoints": {"strategies": [{"type": "paragraph"}], "min_gap": 0},
    "rules": [
        {
            "name": "hold-risky-tools",
            "when": {"stage": "tool_call", "tool": ["send_email", "delete_*"]},
            "action": {"type": "human_review", "mode": "blocking"},
        },
        {
            "name": "refuse-doubtful-calls",
            "when": {"stage": "tool_call", "confidence_below": 0.3},
            "action": {"type": "abort", "message": "Ask the user first."},
        },
    ],
    "default_action": "continue",
}


@tool
def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append({"to": to, "body": body})
    return f"sent to {to}"


@tool
def lookup(name: str) -> str:
    """Look a person up."""
    return f"{name} works in finance"


def calls(*made: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": n, "args": a, "id": f"call-{i}"} for i, (n, a) in enumerate(made)],
    )


EMAIL = calls(("send_email", {"to": "alice@example.com", "body": "The report is late."}))


def agent_for(script: list[Any], confidence: float = 0.9, **options: Any) -> tuple[Any, Any]:
    model = ScriptedToolCallingChat(script=script)
    middleware = FineCEMiddleware(POLICY, ScriptedScorer(lambda q, a: confidence), **options)
    agent = create_agent(
        model, [send_email, lookup], middleware=[middleware], checkpointer=InMemorySaver()
    )
    return agent, model


def start(agent: Any, thread: str) -> tuple[dict[str, Any], dict[str, Any]]:
    SENT.clear()
    config = {"configurable": {"thread_id": thread}}
    return agent.invoke({"messages": [{"role": "user", "content": QUESTION}]}, config), config


def record_of(message: AIMessage) -> dict[str, Any]:
    found = message.response_metadata[METADATA_KEY]
    assert isinstance(found, dict)
    return found


def test_a_held_call_waits_in_the_hitl_format_and_runs_once_approved() -> None:
    agent, _ = agent_for([EMAIL, "Done."])
    paused, config = start(agent, "approve")
    request = paused["__interrupt__"][0].value
    assert [r["name"] for r in request["action_requests"]] == ["send_email"]
    assert request["action_requests"][0]["args"]["to"] == "alice@example.com"
    assert "hold-risky-tools" in request["action_requests"][0]["description"]
    assert request["review_configs"] == [
        {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]}
    ]
    assert SENT == []  # held: nothing ran yet
    state = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert SENT == [{"to": "alice@example.com", "body": "The report is late."}]
    assert state["messages"][-1].content == "Done."
    turn = state["messages"][1]
    (judged,) = record_of(turn)["tool_calls"]
    assert (judged["status"], judged["rule"], judged["confidence"]) == (
        "approved",
        "hold-risky-tools",
        0.9,
    )


def test_an_edited_call_runs_with_the_reviewers_arguments() -> None:
    agent, _ = agent_for([EMAIL, "Done."])
    _, config = start(agent, "edit")
    edited = {"name": "send_email", "args": {"to": "bob@example.com", "body": "Late."}}
    resume = {"decisions": [{"type": "edit", "edited_action": edited}]}
    state = agent.invoke(Command(resume=resume), config)
    assert SENT == [{"to": "bob@example.com", "body": "Late."}]
    (judged,) = record_of(state["messages"][1])["tool_calls"]
    assert judged["status"] == "edited"
    assert judged["args"]["to"] == "alice@example.com"  # what the model wrote, kept
    assert judged["edited_args"]["to"] == "bob@example.com"


def test_a_rejected_call_does_not_run_and_the_model_reads_why() -> None:
    agent, model = agent_for([EMAIL, "I did not send it."])
    _, config = start(agent, "reject")
    resume = {"decisions": [{"type": "reject", "message": "Not to Alice."}]}
    state = agent.invoke(Command(resume=resume), config)
    assert SENT == []
    told = state["messages"][2]
    assert isinstance(told, ToolMessage)
    assert told.status == "error"
    assert "Not to Alice." in str(told.content)
    seen = [m for m in model.calls[1] if isinstance(m, ToolMessage)]
    assert [m.content for m in seen] == [told.content]  # the model's next turn reads it
    assert state["messages"][-1].content == "I did not send it."
    (judged,) = record_of(state["messages"][1])["tool_calls"]
    assert judged["status"] == "rejected"


def test_a_doubtful_call_is_refused_with_a_message_to_the_model() -> None:
    agent, _ = agent_for([calls(("lookup", {"name": "Alice"})), "I will ask you first."], 0.1)
    state, _ = start(agent, "refuse")
    assert "__interrupt__" not in state
    told = state["messages"][2]
    assert isinstance(told, ToolMessage)
    assert told.status == "error"
    assert "Ask the user first." in str(told.content)
    assert "refuse-doubtful-calls" in str(told.content)
    (judged,) = record_of(state["messages"][1])["tool_calls"]
    assert (judged["status"], judged["action"]) == ("refused", "abort")


def test_a_confident_call_of_another_tool_runs_and_is_recorded(tmp_path: Any) -> None:
    with JsonlAuditLog(tmp_path / "audit.jsonl") as audit:
        agent = create_agent(
            ScriptedToolCallingChat(script=[calls(("lookup", {"name": "Alice"})), "Found."]),
            [send_email, lookup],
            middleware=[FineCEMiddleware(POLICY, ScriptedScorer(lambda q, a: 0.9), audit=audit)],
        )
        state = agent.invoke({"messages": [{"role": "user", "content": QUESTION}]})
    assert state["messages"][2].content == "Alice works in finance"
    (judged,) = record_of(state["messages"][1])["tool_calls"]
    assert (judged["status"], judged["rule"]) == ("allowed", None)
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert '"tool_call"' in text  # the tool call's checkpoint and decision are audited
    assert "lookup" in text


def test_a_retry_decision_generates_the_turn_again() -> None:
    policy = {
        **POLICY,
        "rules": [
            {
                "name": "retry-doubtful-calls",
                "when": {"stage": "tool_call", "confidence_below": 0.5},
                "action": {"type": "retry", "backoff": {"initial_s": 0, "max_s": 0}},
            }
        ],
    }
    model = ScriptedToolCallingChat(
        script=[calls(("lookup", {"name": "Alise"})), calls(("lookup", {"name": "Alice"})), "Ok."]
    )
    scorer = ScriptedScorer(lambda q, a: 0.2 if "Alise" in a else 0.9)
    agent = create_agent(model, [lookup], middleware=[FineCEMiddleware(policy, scorer)])
    state = agent.invoke({"messages": [{"role": "user", "content": QUESTION}]})
    assert state["messages"][1].tool_calls[0]["args"] == {"name": "Alice"}
    record = record_of(state["messages"][1])
    assert [a["type"] for a in record["actions"]] == ["retry"]
    assert len(model.calls) == 3


def test_a_bad_resume_value_names_the_expected_format() -> None:
    agent, _ = agent_for([EMAIL, "Done."])
    _, config = start(agent, "bad")
    with pytest.raises(GuardrailConfigError, match="decisions"):
        agent.invoke(Command(resume={"verdict": "approve"}), config)


def test_policies_without_tool_rules_leave_tool_calls_alone() -> None:
    policy = {**POLICY, "rules": [{"name": "x", "when": {"stage": "outcome"}, "action": "flag"}]}
    scorer = ScriptedScorer(lambda q, a: 0.9)
    middleware = FineCEMiddleware(policy, scorer)
    assert not middleware.judges_tools
    model = ScriptedToolCallingChat(script=[EMAIL, "Done."])
    agent = create_agent(model, [send_email], middleware=[middleware])
    SENT.clear()
    state = agent.invoke({"messages": [{"role": "user", "content": QUESTION}]})
    assert len(SENT) == 1
    assert "tool_calls" not in record_of(state["messages"][1])


async def test_async_agents_hold_and_resume_tool_calls_too() -> None:
    agent, _ = agent_for([EMAIL, "Done."])
    SENT.clear()
    config = {"configurable": {"thread_id": "async"}}
    paused = await agent.ainvoke({"messages": [{"role": "user", "content": QUESTION}]}, config)
    assert paused["__interrupt__"][0].value["action_requests"][0]["name"] == "send_email"
    state = await agent.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert len(SENT) == 1
    assert state["messages"][-1].content == "Done."
