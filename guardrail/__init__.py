"""FineCE Guardrail: know when an LLM is about to be wrong while it is still writing.

The public API is small and importing it is cheap: names that need torch (the scorer, model
loading) are imported on first use, so ``import guardrail`` and loading or validating a policy
never import torch, transformers, LangChain or litellm.
"""

from __future__ import annotations

import importlib
from pkgutil import extend_path
from typing import TYPE_CHECKING, Any

from guardrail.errors import (
    GuardrailConfigError,
    GuardrailError,
    GuardrailRuntimeError,
    GuardSignal,
    MissingExtraError,
    ModelUnavailableError,
    ScorerTimeoutError,
    ScorerUnavailableError,
)
from guardrail.events import CheckpointEvent, Stage

# ``guardrail.integrations`` lives in the repository's top-level ``integrations/guardrail/``, a
# second root of this one package (the wheel merges both into ``guardrail/``): a source checkout
# puts both roots on ``sys.path`` and this finds the second.
__path__ = extend_path(__path__, __name__)

if TYPE_CHECKING:
    from guardrail.models import load_model
    from guardrail.monitor import ConfidenceMonitor
    from guardrail.policy import Decision, Policy, PolicyEngine, RunContext, load_preset
    from guardrail.scorers import Scorer, ScoringSession, create_scorer
    from guardrail.scorers.finece import FineCEScorer
    from guardrail.triggers.config import BCISettings, CheckpointSettings

__version__ = "0.1.0"

__all__ = [
    "BCISettings",
    "CheckpointEvent",
    "CheckpointSettings",
    "ConfidenceMonitor",
    "Decision",
    "FineCEScorer",
    "GuardSignal",
    "GuardrailConfigError",
    "GuardrailError",
    "GuardrailRuntimeError",
    "MissingExtraError",
    "ModelUnavailableError",
    "Policy",
    "PolicyEngine",
    "RunContext",
    "Scorer",
    "ScorerTimeoutError",
    "ScorerUnavailableError",
    "ScoringSession",
    "Stage",
    "__version__",
    "create_scorer",
    "load_model",
    "load_preset",
]

_LAZY = {
    "BCISettings": "guardrail.triggers.config",
    "CheckpointSettings": "guardrail.triggers.config",
    "ConfidenceMonitor": "guardrail.monitor",
    "Decision": "guardrail.policy",
    "FineCEScorer": "guardrail.scorers.finece",
    "Policy": "guardrail.policy",
    "PolicyEngine": "guardrail.policy",
    "RunContext": "guardrail.policy",
    "Scorer": "guardrail.scorers",
    "ScoringSession": "guardrail.scorers",
    "create_scorer": "guardrail.scorers",
    "load_model": "guardrail.models",
    "load_preset": "guardrail.policy",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'guardrail' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
