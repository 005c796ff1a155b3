"""One process of the cross-process LangGraph review test: start a run, or resume it.

Usage: ``python lg_review_worker.py start|resume GRAPH_DB REVIEW_DB [RESUME_JSON]``; prints one
JSON line: the graph's output state (interrupts as their values) and the model's call count.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
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
from guardrail.review import SQLiteReviewQueue
from guardrail.testing.scorers import ScriptedScorer

ANSWER = "Six times seven.\nThat is 41.\nAnswer: 41"
REVIEW = {"type": "human_review", "mode": "provisional", "queue": "graph"}


def main(mode: str, graph_db: str, review_db: str, resume: str | None) -> dict[str, Any]:
    model = FakeStreamingChat(responses=[ANSWER])
    queue = SQLiteReviewQueue(review_db)
    policy = scripted_policy(REVIEW, stage="outcome", below=0.5)
    guarded = guard(model, policy, ScriptedScorer([0.9, 0.8, 0.3]), review=queue)
    builder = StateGraph(GuardrailState)
    add_guarded_review(builder, guarded=guarded, queue=queue)
    builder.add_edge(START, "guarded")
    conn = sqlite3.connect(graph_db, check_same_thread=False)
    graph = builder.compile(checkpointer=SqliteSaver(conn))
    config: Any = {"configurable": {"thread_id": "thread-1"}}
    if mode == "start":
        state = graph.invoke({"question": "What is 6 * 7?"}, config)
    else:
        state = graph.invoke(Command(resume=json.loads(resume or "{}")), config)
    interrupts = [item.value for item in state.pop("__interrupt__", ())]
    conn.close()
    return {"state": state, "interrupts": interrupts, "model_calls": len(model.calls)}


if __name__ == "__main__":
    out = main(*sys.argv[1:4], sys.argv[4] if len(sys.argv) > 4 else None)
    print(json.dumps(out, default=str))
