from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from guardrail.integrations.langchain import FineCEMiddleware
from guardrail.integrations.langchain.chat_model import ChatLocalModel

agent = create_agent(
    ChatLocalModel(max_tokens=96),  # any chat model, with tools=[...] as usual
    tools=[],
    middleware=[FineCEMiddleware("default")],
    checkpointer=InMemorySaver(),  # needed for human review
)
config = {"configurable": {"thread_id": "1"}}
state = agent.invoke({"messages": [{"role": "user", "content": "What is 17 * 3?"}]}, config)

if "__interrupt__" in state:  # the policy asked for a human review: the agent is paused
    request = state["__interrupt__"][0].value
    print("review requested:", request["rule"], request["confidence"])
    state = agent.invoke(Command(resume={"verdict": "approve"}), config)

message = state["messages"][-1]
print(message.content)
print(message.response_metadata["guardrail"]["status"])  # ok, pending_review, approved, ...
