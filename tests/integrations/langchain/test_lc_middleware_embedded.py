"""FineCEMiddleware on the embedded model and the real scorer, inside a two-tool agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from guardrail.audit import JsonlAuditLog
from guardrail.integrations.langchain import METADATA_KEY, FineCEMiddleware
from guardrail.integrations.langchain.chat_model import ChatLocalModel

pytestmark = pytest.mark.slow

EMBEDDED = "builtin:smollm2-135m-instruct"
QUESTION = "What is 17 * 3?"

# Any real confidence is below 1.0, so every outcome is "low": the policy retries once at a
# higher temperature, then falls back (act mode), or asks a human (review policy).
RETRY_THEN_FALLBACK: dict[str, Any] = {
    "name": "agent-e2e",
    "scorer": {"model": EMBEDDED, "device": "cpu", "latency_budget_s": 120.0},
    "checkpoints": {"strategies": [{"type": "paragraph"}], "min_gap": 4},
    "rules": [
        {
            "name": "low-outcome",
            "when": {"stage": "outcome", "confidence_below": 1.0},
            "action": {
                "type": "retry",
                "max_attempts": 1,
                "temperature": 0.7,
                "backoff": {"initial_s": 0.0, "max_s": 0.0},
                "on_exhausted": {"type": "abort", "fallback_answer": "Let me check that."},
            },
        }
    ],
}
REVIEW: dict[str, Any] = {
    **RETRY_THEN_FALLBACK,
    "rules": [
        {
            "name": "low-outcome",
            "when": {"stage": "outcome", "confidence_below": 1.0},
            "action": {"type": "human_review", "mode": "provisional"},
        }
    ],
}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class AgentLocalModel(ChatLocalModel):
    """The embedded chat model in an agent that has tools.

    SmolLM2-135M-Instruct's chat template has no tool calling, so binding tools changes
    nothing: the model answers in text, which is what the guard scores.
    """

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def agent(policy: dict[str, Any], scorer: Any, **options: Any) -> Any:
    model = AgentLocalModel(model=EMBEDDED, max_tokens=16, device="cpu", seed=3)
    middleware = FineCEMiddleware(policy, scorer, sleep=lambda s: None, **options)
    return create_agent(
        model, [add, multiply], middleware=[middleware], checkpointer=InMemorySaver()
    )


def test_real_answers_are_scored_retried_and_replaced(embedded_scorer: Any, tmp_path: Path) -> None:
    audit = JsonlAuditLog(tmp_path / "audit.jsonl")
    config = {"configurable": {"thread_id": "e2e"}}
    state = agent(RETRY_THEN_FALLBACK, embedded_scorer, audit=audit).invoke(
        {"messages": [{"role": "user", "content": QUESTION}]}, config
    )
    answer = state["messages"][-1]
    assert answer.content == "Let me check that."
    record = answer.response_metadata[METADATA_KEY]
    assert record["status"] == "fallback"
    assert [(a["attempt"], a["kind"]) for a in record["attempts"]] == [
        (1, "initial"),
        (2, "retry"),
    ]
    for attempt in record["attempts"]:
        assert attempt["answer"]  # the real model wrote something
        assert attempt["events"][-1]["stage"] == "outcome"
        assert 0.0 <= attempt["final_confidence"] <= 1.0
    kinds = {r.kind.value for r in audit.read_run(record["run_id"])}
    assert {"run_start", "checkpoint", "decision", "action", "run_end"} <= kinds


async def test_real_answer_goes_to_review_and_an_edit_is_released(embedded_scorer: Any) -> None:
    graph = agent(REVIEW, embedded_scorer)
    config = {"configurable": {"thread_id": "review"}}
    streamed: list[str] = []
    async for mode, data in graph.astream(
        {"messages": [{"role": "user", "content": QUESTION}]},
        config,
        stream_mode=["messages", "updates"],
    ):
        if mode == "messages":
            streamed.append(str(data[0].content))
    paused = await graph.aget_state(config)
    (pending,) = paused.interrupts
    request = pending.value
    assert request["question"] == QUESTION
    assert request["answer"] == "".join(streamed)
    resumed = await graph.ainvoke(
        Command(resume={"verdict": "edit", "edited_answer": "51"}), config
    )
    assert resumed["messages"][-1].content == "51"
    assert resumed["messages"][-1].response_metadata[METADATA_KEY]["status"] == "edited"
