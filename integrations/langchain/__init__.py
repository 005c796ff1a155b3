"""LangChain integration: the callback that watches, the wrapper that acts.

* :class:`GuardrailCallbackHandler` (the sensor) scores every LLM run of any chain or agent
  while it streams and raises the policy's guard signals.
* :func:`guard` (the actuator) wraps a runnable and carries the decisions out: retry, escalate,
  self-correct, human review, abort.

Needs the ``langchain`` extra (``pip install 'finece-guardrail[langchain]'``).
"""

from guardrail._optional import require

require("langchain_core", "langchain")

from .handler import METADATA_KEY, GuardrailCallbackHandler, RunRecord  # noqa: E402
from .models import ModelRegistry, RunnableBuilder, model_name_of  # noqa: E402
from .runnable import GuardedRunnable, guard  # noqa: E402
from .streaming import ChunkGate, MarkerFactory, StreamingMode  # noqa: E402

__all__ = [
    "METADATA_KEY",
    "ChunkGate",
    "GuardedRunnable",
    "GuardrailCallbackHandler",
    "MarkerFactory",
    "ModelRegistry",
    "RunRecord",
    "RunnableBuilder",
    "StreamingMode",
    "guard",
    "model_name_of",
]
