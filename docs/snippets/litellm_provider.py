import litellm

from guardrail.integrations.litellm import register_local_provider

register_local_provider()  # guardrail-local/<model reference>; smollm2 is the embedded model
response = litellm.completion(
    model="guardrail-local/smollm2",
    messages=[{"role": "user", "content": "What is 2 + 2?"}],
    max_tokens=32,
    logprobs=True,
    top_logprobs=5,
)
print(response.choices[0].message.content)
first = response.choices[0].logprobs["content"][0]  # OpenAI-shaped, one entry per token
print(repr(first["token"]), first["logprob"], len(first["top_logprobs"]), "alternatives")
