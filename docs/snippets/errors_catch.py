from guardrail import GuardrailConfigError, GuardrailRuntimeError, Policy
from guardrail.integrations.langchain import guard
from guardrail.integrations.langchain.chat_model import ChatLocalModel
from guardrail.runtime import GuardAborted, ReviewRejected

try:  # a misspelled key: the error names the line, the key and the fix
    Policy.from_text("rules:\n  - {name: weak, when: {confidence_bellow: 0.5}, action: abort}\n")
except GuardrailConfigError as error:
    print(error)

weak = {"name": "weak", "when": {"stage": "outcome", "confidence_below": 0.5}, "action": "abort"}
guarded = guard(ChatLocalModel(max_tokens=96), {"rules": [weak]})  # abort, no fallback answer
try:
    result = guarded.invoke("What is 17 * 3?")
    print(result.status, result.output.content)
except ReviewRejected as rejected:  # a blocking review said no (catch it before GuardAborted)
    print("rejected, review", rejected.result.review_id if rejected.result else None)
except GuardAborted as aborted:  # the policy aborted and gave no fallback answer
    print("aborted by rule", aborted.decision.rule if aborted.decision else None)
    print("record:", aborted.result.status if aborted.result else None)
except GuardrailRuntimeError as error:  # a failure no policy setting absorbed
    print("failed:", error, "(retryable)" if error.is_retryable else "")
