"""LangGraph: a low-confidence answer paused for review with interrupt(), resumed elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command
from lc_fakes import FakeStreamingChat, scripted_policy
from pydantic import ValidationError

from guardrail.integrations.langchain import guard
from guardrail.integrations.langgraph import (
    GuardrailState,
    ReviewResponse,
    add_guarded_review,
    guarded_node,
)
from guardrail.review import SQLiteReviewQueue, open_review_store
from guardrail.runtime import MemoryReviewSink
from guardrail.testing.scorers import ScriptedScorer

WORKER = Path(__file__).with_name("lg_review_worker.py")
ANSWER = "Six times seven.\nThat is 41.\nAnswer: 41"
REVIEW = {"type": "human_review", "mode": "provisional"}


def graph_with(scores: list[float], **options: Any) -> tuple[Any, FakeStreamingChat]:
    model = FakeStreamingChat(responses=[ANSWER])
    policy = scripted_policy(REVIEW, stage="outcome")
    guarded = guard(model, policy, ScriptedScorer(scores), review=MemoryReviewSink())
    builder = StateGraph(GuardrailState)
    add_guarded_review(builder, guarded=guarded, **options)
    builder.add_edge(START, "guarded")
    return builder.compile(checkpointer=InMemorySaver()), model


CONFIG: Any = {"configurable": {"thread_id": "t"}}


def test_a_confident_answer_passes_straight_through() -> None:
    graph, _ = graph_with([0.9, 0.9, 0.9])
    state = graph.invoke({"question": "q"}, CONFIG)
    assert "__interrupt__" not in state
    assert state["answer"] == ANSWER
    assert state["guardrail"]["status"] == "ok"


@pytest.mark.parametrize(
    ("resume", "answer"),
    [
        ({"verdict": "approve", "reviewer": "ann"}, ANSWER),
        ({"verdict": "edit", "edited_answer": "Answer: 42"}, "Answer: 42"),
        ({"verdict": "reject", "note": "wrong"}, None),
    ],
)
def test_low_confidence_pauses_and_resumes(resume: dict[str, Any], answer: str | None) -> None:
    graph, model = graph_with([0.9, 0.9, 0.2])
    state = graph.invoke({"question": "What is 6 * 7?"}, CONFIG)
    (paused,) = state["__interrupt__"]
    assert paused.value["kind"] == "guardrail_review"
    assert paused.value["answer"] == ANSWER
    assert paused.value["confidence"] == 0.2
    assert paused.value["rule"] == "low"
    state = graph.invoke(Command(resume=resume), CONFIG)
    assert state["answer"] == answer
    assert state["review"]["verdict"] == resume["verdict"]
    assert len(model.calls) == 1  # resuming re-ran the review node, not the model


def test_a_malformed_resume_is_refused_and_can_be_answered_again() -> None:
    graph, _ = graph_with([0.9, 0.9, 0.2])
    graph.invoke({"question": "q"}, CONFIG)
    with pytest.raises(ValidationError):
        graph.invoke(Command(resume={"verdict": "edit"}), CONFIG)
    state = graph.invoke(Command(resume={"verdict": "approve"}), CONFIG)
    assert state["review"]["verdict"] == "approve"
    with pytest.raises(ValidationError):
        ReviewResponse(verdict="approve", edited_answer="x")


def test_review_below_threshold_also_routes_to_review() -> None:
    graph, _ = graph_with([0.9, 0.9, 0.6], review_below=0.8)
    state = graph.invoke({"question": "q"}, CONFIG)
    assert state["__interrupt__"][0].value["status"] == "ok"


def test_a_repeated_guarded_node_does_not_enqueue_twice(tmp_path: Path) -> None:
    queue = SQLiteReviewQueue(tmp_path / "review.db")
    model = FakeStreamingChat(responses=[ANSWER])
    policy = scripted_policy(REVIEW, stage="outcome")
    node = guarded_node(guard(model, policy, ScriptedScorer(lambda q, a: 0.2), review=queue))
    config: Any = {"configurable": {"thread_id": "t", "checkpoint_ns": "guarded:task-1"}}
    first = node({"question": "q"}, config)
    again = node({"question": "q"}, config)  # e.g. the task re-run after a crash
    assert first["guardrail"]["review_id"] == again["guardrail"]["review_id"]
    assert len(queue.list()) == 1
    other = node({"question": "q"}, {"configurable": {"thread_id": "t2", "checkpoint_ns": "x"}})
    assert other["guardrail"]["review_id"] != first["guardrail"]["review_id"]


def run_worker(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(WORKER), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_pause_survives_the_process(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """Interrupt in one process, resume from another on the same database (SqliteSaver, or
    PostgresSaver with the review queue on the same PostgreSQL database)."""
    if backend == "postgres":
        pytest.importorskip("langgraph.checkpoint.postgres")
        graph_db = review_db = str(request.getfixturevalue("postgres_url"))
    else:
        graph_db, review_db = str(tmp_path / "graph.db"), str(tmp_path / "review.db")
    first = run_worker("start", graph_db, review_db)
    (request_value,) = first["interrupts"]
    assert first["model_calls"] == 1
    assert request_value["answer"] == ANSWER
    review_id = request_value["review_id"]
    queue = open_review_store(review_db)
    assert queue.get(review_id).status.value == "pending"
    assert queue.get(review_id).queue == "graph"

    resume = json.dumps({"verdict": "edit", "edited_answer": "Answer: 42", "reviewer": "bob"})
    second = run_worker("resume", graph_db, review_db, resume)
    assert second["interrupts"] == []
    assert second["model_calls"] == 0  # the other process never called the model
    assert second["state"]["answer"] == "Answer: 42"
    assert second["state"]["review"]["reviewer"] == "bob"
    item = queue.get(review_id)
    assert item.status.value == "edited"
    assert item.final_answer == "Answer: 42"
    assert len(queue.list()) == 1
    queue.close()
