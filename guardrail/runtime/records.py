"""What a guarded call did: one record per attempt, one per action, and the call's result.

These records are plain dataclasses (no framework types) and serialise with ``to_dict()`` to
JSON-ready mappings, which the LangChain integration attaches to ``response_metadata`` and the
LangGraph node keeps in the graph state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypedDict

from typing_extensions import TypeVar

from guardrail.events import CheckpointEvent, Stage

if TYPE_CHECKING:
    from guardrail.errors import GuardSignal
    from guardrail.policy import Decision

__all__ = [
    "ActionRecord",
    "AttemptKind",
    "AttemptPlan",
    "AttemptRecord",
    "AttemptReport",
    "GuardStatus",
    "GuardSummary",
    "GuardedResult",
    "GuardedResultPayload",
    "SummaryAction",
    "decision_summary",
]

AttemptKind = Literal["initial", "retry", "escalate", "self_correct"]
"""Why an attempt ran: the first one, or the action that asked for it."""

GuardStatus = Literal[
    "ok",
    "flagged",
    "fallback",
    "pending_review",
    "approved",
    "edited",
    "rejected",
    "aborted",
    "unresolved",
]
"""How a guarded call ended.

``ok``: the answer passed; ``flagged``: it passed with flags; ``fallback``: the policy aborted
and its fallback answer was returned; ``pending_review``: returned at once, a provisional
review is pending; ``approved``/``edited``/``rejected``: a blocking review decided;
``aborted``: the policy aborted with no fallback (the call raised); ``unresolved``: the guard
handed its decision to the framework (LangChain's ``on_low_confidence="raise"``) and the
framework's own middleware gave up without an answer (``ModelRetryMiddleware`` out of retries):
the message is that middleware's error text.
"""


@dataclass(frozen=True, slots=True)
class AttemptPlan:
    """How to run one attempt.

    ``model`` is the generator's name (the one escalation targets name; ``""`` when unknown),
    ``temperature`` the sampling temperature a retry asks for (``None``: unchanged) and
    ``feedback`` the self-correction prompt to send (``None``: ask the original question).
    """

    attempt: int
    model: str
    kind: AttemptKind = "initial"
    temperature: float | None = None
    feedback: str | None = None
    correction_round: int = 0


@dataclass(slots=True)
class AttemptReport:
    """What an adapter saw while running one attempt.

    ``answer`` is the text generated (up to the checkpoint that fired when ``signal`` is set);
    ``output`` the framework's output object for a completed attempt. ``model`` names the model
    that generated it when that is not the plan's (a provider-side fallback); the attempt is
    recorded under that name.
    """

    answer: str = ""
    output: Any = None
    events: tuple[CheckpointEvent, ...] = ()
    decisions: tuple[Decision, ...] = ()
    flags: tuple[dict[str, object], ...] = ()
    signal: GuardSignal | None = None
    pending_review: Decision | None = None
    duration_s: float = 0.0
    model: str | None = None

    @property
    def partial(self) -> bool:
        """True when the guard cut the answer before its end.

        An answer stopped at a process (or question) checkpoint is partial; one stopped at its
        outcome checkpoint was complete when it was judged, so it is not.
        """
        if self.signal is None:
            return False
        decision = self.signal.decision
        event = None if decision is None else decision.event
        return event is None or event.stage is not Stage.OUTCOME


def decision_summary(decision: Decision) -> dict[str, object]:
    """A compact, JSON-ready view of a decision (action, rule, reasons, checkpoint)."""
    event = decision.event
    return {
        "action": decision.action.model_dump(mode="json"),
        "rule": decision.rule,
        "reasons": list(decision.reasons),
        "checkpoint": None if event is None else event.index,
        "stage": None if event is None else event.stage.value,
        "confidence": None if event is None else event.confidence,
        "revised": None if event is None else event.revised,
        "failure_mode": decision.failure_mode,
        "error": decision.error,
    }


@dataclass(slots=True)
class ActionRecord:
    """One action the runtime carried out after an attempt, and what came of it.

    ``type`` is the action (``retry``, ``escalate``, ``self_correct``, ``human_review``,
    ``abort``, ``flag``); ``attempt`` the attempt it followed; ``outcome`` a short result
    (``"attempt 2 scheduled"``, ``"review 3f2a… approved"``, ``"fallback answer returned"``).
    """

    type: str
    attempt: int
    rule: str | None = None
    reasons: tuple[str, ...] = ()
    checkpoint: int | None = None
    confidence: float | None = None
    outcome: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "type": self.type,
            "attempt": self.attempt,
            "rule": self.rule,
            "reasons": list(self.reasons),
            "checkpoint": self.checkpoint,
            "confidence": self.confidence,
            "outcome": self.outcome,
            "detail": dict(self.detail),
            "duration_s": self.duration_s,
        }


@dataclass(slots=True)
class AttemptRecord:
    """One generation of the answer.

    ``answer`` is the text written (cut at the checkpoint that fired when ``partial``),
    ``events`` its checkpoints, ``decisions`` every policy decision taken on them, ``signal``
    the action type that interrupted it (``None`` when it ran to the end), ``flags`` the flag
    actions, ``error`` a failure that ended it. ``output`` is the framework's output object
    (not serialised).
    """

    attempt: int
    model: str
    kind: AttemptKind = "initial"
    answer: str = ""
    partial: bool = False
    events: tuple[CheckpointEvent, ...] = ()
    decisions: tuple[Decision, ...] = ()
    signal: str | None = None
    rule: str | None = None
    flags: tuple[dict[str, object], ...] = ()
    error: str | None = None
    duration_s: float = 0.0
    output: Any = field(default=None, repr=False)

    @property
    def final_confidence(self) -> float | None:
        """The (revised) confidence of the last checkpoint, ``None`` without one."""
        return self.events[-1].revised if self.events else None

    @property
    def min_confidence(self) -> float | None:
        """The lowest revised confidence of the attempt, ``None`` without checkpoints."""
        return min((event.revised for event in self.events), default=None)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping (events as dicts, decisions summarised)."""
        return {
            "attempt": self.attempt,
            "model": self.model,
            "kind": self.kind,
            "answer": self.answer,
            "partial": self.partial,
            "final_confidence": self.final_confidence,
            "events": [event.to_dict() for event in self.events],
            "decisions": [decision_summary(decision) for decision in self.decisions],
            "signal": self.signal,
            "rule": self.rule,
            "flags": [dict(flag) for flag in self.flags],
            "error": self.error,
            "duration_s": self.duration_s,
        }


class SummaryAction(TypedDict):
    """One action in a :class:`GuardSummary`."""

    type: str
    """The action carried out: ``retry``, ``escalate``, ``self_correct``, ``human_review``,
    ``abort`` or ``flag``."""
    rule: str | None
    """The policy rule that asked for it (``None``: the default action or ``on_error``)."""
    outcome: str
    """What came of it (``"attempt 2 scheduled"``, ``"fallback answer returned"``)."""


class GuardSummary(TypedDict):
    """The guard's summary of one call, the same on every path (LangChain, litellm, proxy).

    Every path attaches it, to accepted answers too, as the ``summary`` key of the guard's
    record: LangChain in the answer message's ``response_metadata["guardrail"]["summary"]``,
    the litellm SDK in the response's ``_hidden_params["guardrail"]["summary"]``, the proxy in
    the response body's ``guardrail.summary`` (streamed: the ``final`` frame's
    ``guardrail.summary``, or the ``block`` frame's).
    """

    status: GuardStatus
    """How the call ended (:data:`GuardStatus`)."""
    final_confidence: float | None
    """The last checkpoint's revised confidence in the final attempt (``None``: unscored)."""
    attempts: int
    """How many attempts ran."""
    actions: list[SummaryAction]
    """The actions carried out, in order (empty for an answer that passed at once)."""
    review_id: str | None
    """The review item of a human review, else ``None``."""
    run_id: str | None
    """The audit run's id."""
    policy: str | None
    """The policy's name."""


class GuardedResultPayload(TypedDict):
    """A call's full record, JSON-ready (:meth:`GuardedResult.to_dict`).

    What the guard puts in LangChain's ``response_metadata["guardrail"]``, litellm's
    ``_hidden_params["guardrail"]`` and a stream's ``final`` marker.
    """

    status: GuardStatus
    """How the call ended (:data:`GuardStatus`)."""
    summary: GuardSummary
    """The short summary, the same on every path."""
    answer: str
    """The answer returned (a fallback or reviewed answer when it replaced the model's)."""
    final_confidence: float | None
    """The last checkpoint's revised confidence in the final attempt (``None``: unscored)."""
    attempts: list[dict[str, object]]
    """Every attempt (:meth:`AttemptRecord.to_dict`), in order."""
    actions: list[dict[str, object]]
    """Every action carried out (:meth:`ActionRecord.to_dict`), in order."""
    review_id: str | None
    """The review item of a human review, else ``None``."""
    run_id: str | None
    """The audit run's id."""
    policy: str | None
    """The policy's name."""
    duration_s: float
    """Seconds the call took, attempts and waits included."""


OutputT = TypeVar("OutputT", default=Any)
"""What a guarded call returns to its caller (a LangChain output, a litellm ``ModelResponse``)."""


@dataclass(slots=True)
class GuardedResult(Generic[OutputT]):
    """The outcome of one guarded call: the output, the answer text and everything done.

    ``output`` is what the caller receives (the wrapped runnable's output, a fallback or an
    edited answer rebuilt in the same shape); ``answer`` its text. ``attempts`` and ``actions``
    are in order. ``review_id`` names the review item of a human review.
    """

    output: OutputT
    answer: str
    status: GuardStatus
    attempts: list[AttemptRecord] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    review_id: str | None = None
    run_id: str | None = None
    policy: str | None = None
    duration_s: float = 0.0

    @property
    def final_attempt(self) -> AttemptRecord | None:
        """The last attempt (the one whose answer, or fallback, was returned)."""
        return self.attempts[-1] if self.attempts else None

    @property
    def final_confidence(self) -> float | None:
        """The last checkpoint's revised confidence in the final attempt."""
        attempt = self.final_attempt
        return None if attempt is None else attempt.final_confidence

    @property
    def events(self) -> tuple[CheckpointEvent, ...]:
        """The checkpoints of the final attempt."""
        attempt = self.final_attempt
        return () if attempt is None else attempt.events

    @property
    def flags(self) -> tuple[dict[str, object], ...]:
        """Every flag raised, over all attempts."""
        return tuple(flag for attempt in self.attempts for flag in attempt.flags)

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """Every policy decision, over all attempts."""
        return tuple(d for attempt in self.attempts for d in attempt.decisions)

    def summary(self) -> GuardSummary:
        """The short, documented :class:`GuardSummary` of this call."""
        return GuardSummary(
            status=self.status,
            final_confidence=self.final_confidence,
            attempts=len(self.attempts),
            actions=[
                SummaryAction(type=action.type, rule=action.rule, outcome=action.outcome)
                for action in self.actions
            ],
            review_id=self.review_id,
            run_id=self.run_id,
            policy=self.policy,
        )

    def to_dict(self) -> GuardedResultPayload:
        """JSON-ready mapping (without ``output``); ``summary`` is :meth:`summary`."""
        return {
            "status": self.status,
            "summary": self.summary(),
            "answer": self.answer,
            "final_confidence": self.final_confidence,
            "attempts": [attempt.to_dict() for attempt in self.attempts],
            "actions": [action.to_dict() for action in self.actions],
            "review_id": self.review_id,
            "run_id": self.run_id,
            "policy": self.policy,
            "duration_s": self.duration_s,
        }


def flag_payload(
    decision: Decision, extra: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The record of one ``flag`` action (label, severity, rule, checkpoint, confidence)."""
    action = decision.action
    event = decision.event
    return {
        "label": getattr(action, "label", ""),
        "severity": getattr(action, "severity", ""),
        "rule": decision.rule,
        "checkpoint": None if event is None else event.index,
        "confidence": None if event is None else event.revised,
        **(extra or {}),
    }


def events_payload(events: Sequence[CheckpointEvent]) -> list[dict[str, object]]:
    """Events as JSON-ready dicts."""
    return [event.to_dict() for event in events]
