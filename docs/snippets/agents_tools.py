from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_litellm import ChatLiteLLM
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from guardrail.integrations.langchain import FineCEMiddleware

POLICY = """
rules:
  - name: hold-risky-tools
    when: {stage: tool_call, tool: [send_email, "delete_*"], confidence_below: 0.8}
    action: {type: human_review, mode: blocking}
  - name: refuse-doubtful-calls
    when: {stage: tool_call, confidence_below: 0.3}
    action: {type: abort, message: "Ask the user first."}
"""


@tool
def send_email(to: str, body: str) -> str:
    """Send an email."""
    return f"sent to {to}"


agent = create_agent(
    ChatLiteLLM(model="openai/gpt-4o-mini"),  # any chat model that calls tools
    tools=[send_email],
    middleware=[FineCEMiddleware(POLICY)],
    checkpointer=InMemorySaver(),  # a held call pauses the agent
)
config = {"configurable": {"thread_id": "1"}}
question = {"role": "user", "content": "Tell Alice the meeting moved to 3pm."}
state = agent.invoke({"messages": [question]}, config)

while "__interrupt__" in state:  # LangChain's human-in-the-loop request, one per held call
    for request in state["__interrupt__"][0].value["action_requests"]:
        print("held:", request["name"], request["args"])
    fixed = {"to": "alice@example.com", "body": "The meeting moved to 3pm."}
    decision = {"type": "edit", "edited_action": {"name": "send_email", "args": fixed}}
    state = agent.invoke(Command(resume={"decisions": [decision]}), config)

for message in state["messages"][1:]:
    print(type(message).__name__, message.content)
