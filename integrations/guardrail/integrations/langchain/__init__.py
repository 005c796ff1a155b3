"""LangChain integration: the callback that watches, the wrapper that acts.

* :class:`GuardrailCallbackHandler` (the sensor) scores every LLM run of any chain or agent
  while it streams and raises the policy's guard signals.
* :func:`guard` (the actuator) wraps a runnable and carries the decisions out: retry, escalate,
  self-correct, human review, abort.
* :class:`FineCEMiddleware` (:mod:`.middleware`, needs ``langchain`` >= 1.5) does the same for
  each model call of a ``langchain.agents.create_agent`` agent.

Needs the ``langchain`` extra (``pip install 'finece-guardrail[langchain]'``).
"""

from guardrail._optional import require

require("langchain_core", "langchain")

from ._logging import install_log_filter  # noqa: E402
from .handler import METADATA_KEY, GuardrailCallbackHandler, RunRecord  # noqa: E402
from .models import ModelRegistry, RunnableBuilder, model_name_of  # noqa: E402
from .runnable import GuardedRunnable, guard  # noqa: E402
from .streaming import ChunkGate, MarkerFactory, StreamingMode  # noqa: E402

install_log_filter()  # guard signals are not callback failures: no WARNING for each one


def __getattr__(name: str) -> object:
    # The agent middleware needs the ``langchain`` package itself (not only langchain-core),
    # so it is imported on first use.
    if name in ("FineCEMiddleware", "LowConfidenceError"):
        from . import middleware

        return getattr(middleware, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METADATA_KEY",
    "ChunkGate",
    "FineCEMiddleware",
    "GuardedRunnable",
    "GuardrailCallbackHandler",
    "LowConfidenceError",
    "MarkerFactory",
    "ModelRegistry",
    "RunRecord",
    "RunnableBuilder",
    "StreamingMode",
    "guard",
    "model_name_of",
]
