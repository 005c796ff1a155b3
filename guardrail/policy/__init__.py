"""YAML guardrail policies: what happens when confidence drops.

Load a policy with :meth:`Policy.from_file` (or ``from_text`` / ``from_dict`` /
:func:`load_preset`), then ask a :class:`PolicyEngine` for a :class:`Decision` at every
checkpoint. Loading and deciding are pure Python: no torch, transformers, LangChain or litellm.
"""

from guardrail.policy.actions import (
    AbortAction,
    Action,
    Backoff,
    ContinueAction,
    EscalateAction,
    FlagAction,
    HumanReviewAction,
    RetryAction,
    SelfCorrectAction,
)
from guardrail.policy.conditions import Condition
from guardrail.policy.context import RunContext
from guardrail.policy.decision import Decision
from guardrail.policy.engine import DECISION_LOGGER_NAME, PolicyEngine
from guardrail.policy.explain import explain
from guardrail.policy.presets import list_presets, load_preset
from guardrail.policy.schema import Policy, Rule, ScorerSettings, schema_json

__all__ = [
    "DECISION_LOGGER_NAME",
    "AbortAction",
    "Action",
    "Backoff",
    "Condition",
    "ContinueAction",
    "Decision",
    "EscalateAction",
    "FlagAction",
    "HumanReviewAction",
    "Policy",
    "PolicyEngine",
    "RetryAction",
    "Rule",
    "RunContext",
    "ScorerSettings",
    "SelfCorrectAction",
    "explain",
    "list_presets",
    "load_preset",
    "schema_json",
]
