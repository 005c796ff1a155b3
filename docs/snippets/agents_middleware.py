"""The middleware order of docs/agents.md, run as written by tests/integrations/langchain."""

from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelFallbackMiddleware, ModelRetryMiddleware

from guardrail.integrations.langchain import FineCEMiddleware


def build_agent(model: Any, fallback_model: Any, tools: list[Any], policy: Any = "default") -> Any:
    """An agent whose guard hands its decisions to LangChain's retry and fallback middleware."""
    return create_agent(
        model,
        tools,
        middleware=[
            # outermost: gets only the errors the retry middleware lets through
            # (escalate and abort decisions), and then calls the fallback model
            ModelFallbackMiddleware(fallback_model),
            # a retry or self_correct decision is retryable: the same model again
            ModelRetryMiddleware(max_retries=2),
            # innermost: judges every model call, raises LowConfidenceError
            FineCEMiddleware(policy, on_low_confidence="raise"),
        ],
    )
