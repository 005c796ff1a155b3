"""One process of the cross-process LangGraph review test: start a run, or resume it.

Usage: ``python lg_review_worker.py start|resume GRAPH_DB REVIEW_DB [RESUME_JSON]``; prints one
JSON line: the graph's output state (interrupts as their values) and the model's call count.
``GRAPH_DB`` and ``REVIEW_DB`` are SQLite files or ``postgresql://`` URLs (then the graph is
checkpointed by ``PostgresSaver`` and the review queue lives on the same server).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).parent))

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command
from lc_fakes import FakeStreamingChat, scripted_policy

from guardrail.integrations.langchain import guard
from guardrail.integrations.langgraph import GuardrailState, add_guarded_review
from guardrail.review import open_review_store
from guardrail.testing.scorers import ScriptedScorer

ANSWER = "Six times seven.\nThat is 41.\nAnswer: 41"
REVIEW = {"type": "human_review", "mode": "provisional", "queue": "graph"}


@contextmanager
def checkpointer(graph_db: str) -> Iterator[Any]:
    if graph_db.startswith("postgresql://"):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(graph_db) as saver:
            saver.setup()  # idempotent: LangGraph's own versioned migrations
            yield saver
        return
    conn = sqlite3.connect(graph_db, check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def main(mode: str, graph_db: str, review_db: str, resume: str | None) -> dict[str, Any]:
    model = FakeStreamingChat(responses=[ANSWER])
    queue = open_review_store(review_db)
    policy = scripted_policy(REVIEW, stage="outcome", below=0.5)
    guarded = guard(model, policy, ScriptedScorer([0.9, 0.8, 0.3]), review=queue)
    builder = StateGraph(GuardrailState)
    add_guarded_review(builder, guarded=guarded, queue=queue)
    builder.add_edge(START, "guarded")
    config: Any = {"configurable": {"thread_id": "thread-1"}}
    with checkpointer(graph_db) as saver:
        graph = builder.compile(checkpointer=saver)
        if mode == "start":
            state = graph.invoke({"question": "What is 6 * 7?"}, config)
        else:
            state = graph.invoke(Command(resume=json.loads(resume or "{}")), config)
    interrupts = [item.value for item in state.pop("__interrupt__", ())]
    queue.close()
    return {"state": state, "interrupts": interrupts, "model_calls": len(model.calls)}


if __name__ == "__main__":
    out = main(*sys.argv[1:4], sys.argv[4] if len(sys.argv) > 4 else None)
    print(json.dumps(out, default=str))
