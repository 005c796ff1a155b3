from guardrail.integrations.litellm import guarded_completion, register_local_provider

register_local_provider()
shown: list[str] = []  # what the user sees, chunk by chunk
for chunk in guarded_completion(
    model="guardrail-local/smollm2",
    messages=[{"role": "user", "content": "What is 17 * 3?"}],
    policy="default",
    stream=True,
    max_tokens=96,
):
    frame = getattr(chunk, "guardrail", None)  # the guard's frames carry no text
    if frame is None:
        shown.append(chunk.choices[0].delta.content or "")
    elif frame["marker"] == "restart":  # an interrupted attempt: take back what it showed
        del shown[len(shown) - frame["discard_chunks"] :]
    elif frame["marker"] == "final":  # the last chunk: the call's record
        print("status:", frame["status"], "confidence:", frame["final_confidence"])
print("".join(shown))
