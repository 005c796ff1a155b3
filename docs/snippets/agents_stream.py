from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver

from guardrail.integrations.langchain import FineCEMiddleware
from guardrail.integrations.langchain.chat_model import ChatLocalModel

agent = create_agent(
    ChatLocalModel(max_tokens=96),
    tools=[],
    middleware=[FineCEMiddleware("default")],
    checkpointer=InMemorySaver(),
)
inputs = {"messages": [{"role": "user", "content": "What is 17 * 3?"}]}
config = {"configurable": {"thread_id": "1"}}

shown = ""  # the answer as the user sees it, token by token
for mode, data in agent.stream(inputs, config, stream_mode=["messages", "custom"]):
    if mode == "messages":
        shown += data[0].content
    elif data["guardrail"]["marker"] == "restart":  # an interrupted attempt: erase it
        shown = ""
    elif data["guardrail"]["marker"] == "final":  # the call is settled: its record
        print("status:", data["guardrail"]["status"])
print(shown)
