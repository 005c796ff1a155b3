from guardrail.integrations.litellm import guarded_completion, register_local_provider

register_local_provider()  # serves the embedded model as guardrail-local/<model>
result = guarded_completion(
    model="guardrail-local/smollm2",  # or any litellm model: "openai/gpt-4o-mini", ...
    messages=[{"role": "user", "content": "What is 17 * 3?"}],
    policy="default",  # preset, policy file, YAML text, mapping or GuardConfig
    max_tokens=96,  # any litellm argument passes through
)
print(result.output.choices[0].message.content)  # a litellm ModelResponse
print(result.status, result.final_confidence, [action.type for action in result.actions])
