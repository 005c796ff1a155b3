from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command

from guardrail.integrations.langchain import guard
from guardrail.integrations.langchain.chat_model import ChatLocalModel
from guardrail.integrations.langgraph import GuardrailState, add_guarded_review
from guardrail.review import ReviewQueue

queue = ReviewQueue(path="review.db")  # a SQLite file; a postgresql:// URL for a fleet
guarded = guard(ChatLocalModel(max_tokens=96), "default", review=queue)

builder = StateGraph(GuardrailState)
add_guarded_review(builder, guarded=guarded, queue=queue)  # nodes "guarded" -> "human_review"
builder.add_edge(START, "guarded")
graph = builder.compile(checkpointer=InMemorySaver())  # SqliteSaver/PostgresSaver to persist

config = {"configurable": {"thread_id": "ticket-42"}}
state = graph.invoke({"question": "What is 17 * 3?"}, config)
if "__interrupt__" in state:  # paused for a reviewer; any process can resume the thread
    request = state["__interrupt__"][0].value  # a ReviewRequest as a dict
    print("review:", request["answer"], request["confidence"], request["rule"])
    state = graph.invoke(Command(resume={"verdict": "edit", "edited_answer": "51"}), config)

print(state["answer"], state["guardrail"]["status"], state.get("review", {}).get("verdict"))
