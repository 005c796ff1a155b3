"""The policy engine: the one place where guard decisions are made.

:meth:`PolicyEngine.decide` is a pure, deterministic function of the policy, the checkpoint
event, the earlier events of the same answer and the run context. Rules are tried in order and
the first whose condition holds decides; otherwise the policy's ``default_action`` applies.
The engine also resolves exhausted actions: a ``retry`` once the attempt number passes
``max_attempts``, or an ``escalate`` when the run already uses the last target, becomes the
action's ``on_exhausted``.

A scorer failure is never silent: :meth:`PolicyEngine.decide_error` turns it into the policy's
``on_error`` outcome, and so does an event whose confidence is not a finite number in [0, 1].
Every decision is logged on the ``guardrail.decisions`` logger (the record's ``decision``
attribute holds :meth:`Decision.to_dict`) and passed to the optional ``on_decision`` callback.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

from guardrail.errors import ScorerUnavailableError
from guardrail.events import CheckpointEvent
from guardrail.policy.actions import AbortAction, ContinueAction, EscalateAction, RetryAction
from guardrail.policy.conditions import Facts, evaluate
from guardrail.policy.context import RunContext
from guardrail.policy.decision import AnyAction, Decision, FailureMode
from guardrail.policy.fields import fmt
from guardrail.policy.schema import Policy
from guardrail.redaction import describe_error

__all__ = ["DECISION_LOGGER_NAME", "PolicyEngine"]

DECISION_LOGGER_NAME = "guardrail.decisions"
_ABORT_PREFIX = "Aborted: confidence could not be estimated ("
_ABORT_MESSAGE_MAX = 256  # AbortAction.message's bound
_MAX_ERROR = 2000
_logger = logging.getLogger(DECISION_LOGGER_NAME)


def _valid_confidence(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0


def _resolve(action: AnyAction, context: RunContext) -> tuple[AnyAction, list[str]]:
    """Replace an exhausted retry or escalation by its ``on_exhausted`` action."""
    match action:
        case RetryAction() if action.exhausted(context.attempt):
            note = (
                f"retry exhausted: attempt {context.attempt} > max_attempts "
                f"{action.max_attempts}; falling back to {action.on_exhausted.type}"
            )
            resolved, more = _resolve(action.on_exhausted, context)
            return resolved, [note, *more]
        case EscalateAction() if action.next_target(context.model) is None:
            note = (
                f"escalation exhausted: model {context.model!r} is the last target; "
                f"falling back to {action.on_exhausted.type}"
            )
            return action.on_exhausted, [note]
        case EscalateAction():
            return action, [f"escalate to {action.next_target(context.model)!r}"]
        case _:
            return action, []


class PolicyEngine:
    """Decide, for each checkpoint event, what the guard does according to ``policy``.

    ``on_decision`` is called with every decision after it is logged; an exception it raises
    propagates to the caller of :meth:`decide`.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        self._policy = policy
        self._on_decision = on_decision

    @property
    def policy(self) -> Policy:
        """The policy this engine applies."""
        return self._policy

    def evaluate(
        self,
        event: CheckpointEvent,
        context: RunContext,
        history: Sequence[CheckpointEvent] = (),
    ) -> Decision:
        """The decision for ``event``, without logging it or calling ``on_decision``."""
        for label, value in (("confidence", event.confidence), ("revised", event.revised)):
            if not _valid_confidence(value):
                error = ScorerUnavailableError(
                    f"checkpoint {event.index} has an invalid {label} value {value!r}"
                )
                return self._error_decision(error, event, context)
        earlier = tuple(sorted((h for h in history if h.index < event.index), key=_index))
        facts = Facts(event=event, history=earlier, context=context)
        for rule in self._policy.rules:
            verdict = evaluate(rule.when, facts)
            if verdict.holds:
                action, notes = _resolve(rule.action, context)
                return self._decision(action, rule.name, [*verdict.reasons, *notes], event, context)
        action, notes = _resolve(self._policy.default_action, context)
        reasons = [
            f"no rule matched at the {event.stage.value} checkpoint "
            f"(confidence {fmt(event.confidence)}, revised {fmt(event.revised)})",
            *notes,
        ]
        return self._decision(action, None, reasons, event, context)

    def decide(
        self,
        event: CheckpointEvent,
        context: RunContext,
        history: Sequence[CheckpointEvent] = (),
    ) -> Decision:
        """Decide for ``event`` given the earlier events of the same answer; emit the decision."""
        decision = self.evaluate(event, context, history)
        self._emit(decision)
        return decision

    def decide_error(
        self,
        exc: BaseException,
        event: CheckpointEvent | None,
        context: RunContext,
        failure_mode: FailureMode | None = None,
    ) -> Decision:
        """Turn a scorer failure (or timeout) into the ``on_error`` outcome; emit the decision.

        ``fail_closed`` gives an abort, ``fail_open`` a continue; both carry ``failure_mode``
        and ``error`` so the outcome is never mistaken for a normal one. ``failure_mode``
        overrides ``on_error`` (an overload decided by the policy's ``overload``).
        """
        decision = self._error_decision(exc, event, context, failure_mode)
        self._emit(decision)
        return decision

    # ----------------------------------------------------------------- internals
    def _decision(
        self,
        action: AnyAction,
        rule: str | None,
        reasons: Sequence[str],
        event: CheckpointEvent,
        context: RunContext,
    ) -> Decision:
        return Decision(
            action=action,
            rule=rule,
            reasons=tuple(reasons),
            event=event,
            context=context,
            policy=self._policy.name,
        )

    def _error_decision(
        self,
        exc: BaseException,
        event: CheckpointEvent | None,
        context: RunContext,
        failure_mode: FailureMode | None = None,
    ) -> Decision:
        # a peer's error text may be megabytes long and quote a URL with its credentials
        error = describe_error(exc, _MAX_ERROR)
        retryable = bool(getattr(exc, "is_retryable", False))
        reasons = [f"scorer failed ({error}; retryable: {'yes' if retryable else 'no'})"]
        mode = failure_mode or self._policy.on_error
        setting = "on_error" if failure_mode is None else "overload"
        action: AnyAction
        if mode == "fail_closed":
            short = describe_error(exc, _ABORT_MESSAGE_MAX - len(_ABORT_PREFIX) - 2)
            action = AbortAction(message=f"{_ABORT_PREFIX}{short}).")
            reasons.append(f"policy {setting} is fail_closed: aborting")
        else:
            action = ContinueAction()
            reasons.append(f"policy {setting} is fail_open: continuing without a confidence check")
        return Decision(
            action=action,
            rule=None,
            reasons=tuple(reasons),
            event=event,
            context=context,
            policy=self._policy.name,
            failure_mode=mode,
            error=error,
        )

    def _emit(self, decision: Decision) -> None:
        level = logging.WARNING if decision.failure_mode is not None else logging.INFO
        if _logger.isEnabledFor(level):
            checkpoint = "-" if decision.event is None else str(decision.event.index)
            _logger.log(
                level,
                "policy %s: %s at checkpoint %s (rule %s%s)",
                decision.policy,
                decision.action_type,
                checkpoint,
                decision.rule or ("default" if decision.is_default else "none"),
                f", {decision.failure_mode}" if decision.failure_mode else "",
                extra={"decision": decision.to_dict()},
            )
        if self._on_decision is not None:
            self._on_decision(decision)


def _index(event: CheckpointEvent) -> int:
    return event.index
