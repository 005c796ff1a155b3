"""The recorded review action matches the rule that fired; a finished answer is not partial."""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from lc_fakes import scripted_policy

from guardrail.integrations.langchain import METADATA_KEY, FineCEMiddleware
from guardrail.testing import ScriptedScorer, ScriptedToolCallingChat

ANSWER = "Step one.\nStep two.\nAnswer: 41"


def paused(mode: str, stage: str, script: list[float]) -> tuple[Any, dict[str, Any], Any]:
    policy = scripted_policy({"type": "human_review", "mode": mode}, stage=stage)
    middleware = FineCEMiddleware(policy, ScriptedScorer(script))
    model = ScriptedToolCallingChat(script=[ANSWER])
    agent = create_agent(model, [], middleware=[middleware], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"{mode}-{stage}"}}
    state = agent.invoke({"messages": [{"role": "user", "content": "6 * 7?"}]}, config)
    return agent, config, state


def test_a_blocking_review_of_the_finished_answer_records_its_rule_and_mode() -> None:
    agent, config, state = paused("blocking", "outcome", [0.9, 0.9, 0.1])
    request = state["__interrupt__"][0].value
    assert request["rule"] == "low"
    assert request["partial"] is False  # judged at the outcome: the answer was complete
    assert request["answer"] == ANSWER
    record = state["messages"][-1].response_metadata[METADATA_KEY]
    (action,) = record["actions"]
    assert action["type"] == "human_review"
    assert action["detail"]["mode"] == "blocking"
    assert action["rule"] == "low"
    assert action["reasons"] == request["reasons"] != []
    assert record["attempts"][0]["partial"] is False
    resumed = agent.invoke(Command(resume={"verdict": "approve"}), config)
    assert resumed["messages"][-1].response_metadata[METADATA_KEY]["status"] == "approved"


def test_a_blocking_review_of_a_cut_answer_is_partial() -> None:
    _, _, state = paused("blocking", "process", [0.9, 0.1])
    request = state["__interrupt__"][0].value
    assert request["partial"] is True
    assert ANSWER.startswith(request["answer"])
    assert request["answer"] != ANSWER
    action = state["messages"][-1].response_metadata[METADATA_KEY]["actions"][0]
    assert (action["detail"]["mode"], action["rule"]) == ("blocking", "low")


def test_a_provisional_review_records_its_mode() -> None:
    _, _, state = paused("provisional", "outcome", [0.9, 0.9, 0.1])
    request = state["__interrupt__"][0].value
    assert request["partial"] is False
    action = state["messages"][-1].response_metadata[METADATA_KEY]["actions"][0]
    assert (action["detail"]["mode"], action["rule"]) == ("provisional", "low")
