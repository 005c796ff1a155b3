"""litellm integration: the embedded model as the ``guardrail-local`` provider."""
