from langchain_core.prompts import ChatPromptTemplate

from guardrail import GuardSignal
from guardrail.integrations.langchain import GuardrailCallbackHandler
from guardrail.integrations.langchain.chat_model import ChatLocalModel

handler = GuardrailCallbackHandler("default")  # the sensor: scores, and stops a stream
chain = ChatPromptTemplate.from_messages([("user", "{question}")]) | ChatLocalModel(max_tokens=96)

try:
    for chunk in chain.stream({"question": "What is 17 * 3?"}, {"callbacks": [handler]}):
        print(chunk.content, end="", flush=True)
except GuardSignal as signal:  # the policy interrupted the answer at a checkpoint
    print(f"\n[stopped: {signal.decision.action.type if signal.decision else signal}]")

summary = handler.runs[-1].summary()  # also in the message's response_metadata["guardrail"]
print("\nfinal confidence:", summary["final_confidence"])
for checkpoint in summary["checkpoints"]:
    print(checkpoint["stage"], checkpoint["reason"], round(checkpoint["revised"], 2))
