"""The engine's output: which action, decided by which rule, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from guardrail.events import CheckpointEvent
from guardrail.policy.actions import (
    AbortAction,
    ContinueAction,
    EscalateAction,
    FlagAction,
    HumanReviewAction,
    RetryAction,
    SelfCorrectAction,
)
from guardrail.policy.context import RunContext

__all__ = ["Decision", "FailureMode"]

FailureMode = Literal["fail_closed", "fail_open"]

AnyAction = (
    AbortAction
    | RetryAction
    | EscalateAction
    | SelfCorrectAction
    | HumanReviewAction
    | FlagAction
    | ContinueAction
)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided at one checkpoint.

    ``rule`` is the name of the matching rule, or ``None`` when the default action (or an error
    outcome) applied. ``reasons`` are human-readable strings in evaluation order. ``failure_mode``
    is set only for decisions made because the scorer failed (:meth:`PolicyEngine.decide_error`),
    and ``error`` then describes the failure.
    """

    action: AnyAction
    rule: str | None
    reasons: tuple[str, ...]
    event: CheckpointEvent | None
    context: RunContext
    policy: str
    failure_mode: FailureMode | None = None
    error: str | None = None

    @property
    def action_type(self) -> str:
        """The action's ``type`` (``abort``, ``retry``, ...)."""
        return self.action.type

    @property
    def is_default(self) -> bool:
        """True when no rule matched and the policy's default action applied."""
        return self.rule is None and self.failure_mode is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping for the audit log."""
        return {
            "policy": self.policy,
            "rule": self.rule,
            "action": self.action.model_dump(mode="json"),
            "reasons": list(self.reasons),
            "event": None if self.event is None else self.event.to_dict(),
            "context": self.context.to_dict(),
            "failure_mode": self.failure_mode,
            "error": self.error,
        }
