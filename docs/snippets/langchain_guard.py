from guardrail.integrations.langchain import guard
from guardrail.integrations.langchain.chat_model import ChatLocalModel

# Any LangChain chat model or chain; ChatLocalModel is the embedded SmolLM2-135M-Instruct.
guarded = guard(ChatLocalModel(max_tokens=96), policy="default")
result = guarded.invoke("What is 17 * 3?")

print(result.output.content)  # the chat model's own output type (an AIMessage here)
print(result.status, result.final_confidence)  # e.g. "ok 0.87"
for action in result.actions:  # what the guard did: retry, escalate, human_review, ...
    print(action.type, action.rule, action.outcome)
