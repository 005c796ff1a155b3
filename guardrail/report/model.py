"""What a report shows: one run (or one inspected answer), its attempts, checkpoints and decisions.

These are plain frozen dataclasses, built from audit records (:mod:`guardrail.report.audit`) or
by scoring a given answer (:mod:`guardrail.report.replay`), and rendered by
:mod:`guardrail.report.html`. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from guardrail.events import CheckpointEvent, Stage
from guardrail.policy.actions import INTERRUPTING_ACTION_TYPES

__all__ = [
    "INTERRUPTING_ACTIONS",
    "ReportAction",
    "ReportAttempt",
    "ReportDecision",
    "ReportSource",
    "RunReport",
    "Segment",
]

ReportSource = Literal["audit", "inspect"]
"""Where a report came from: a recorded run, or an answer scored by ``guardrail inspect``."""

INTERRUPTING_ACTIONS = INTERRUPTING_ACTION_TYPES
"""Action types that stop (or hold) an answer; ``continue`` and ``flag`` let it go on."""


@dataclass(frozen=True, slots=True)
class ReportDecision:
    """One policy decision: the action type, the rule that chose it and why.

    ``checkpoint`` and ``token_index`` locate the checkpoint it was taken at (``None`` for a
    scorer failure before any checkpoint); ``confidence``/``revised`` are the values the policy
    saw then. ``failure_mode`` is set when the decision is the policy's ``on_error`` outcome.
    """

    action: str
    rule: str | None = None
    reasons: tuple[str, ...] = ()
    checkpoint: int | None = None
    token_index: int | None = None
    confidence: float | None = None
    revised: float | None = None
    failure_mode: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """The action, with the failure mode when the scorer failed (``abort (fail_closed)``)."""
        return f"{self.action} ({self.failure_mode})" if self.failure_mode else self.action

    @property
    def interrupts(self) -> bool:
        """True for actions that stop or hold the answer (see :data:`INTERRUPTING_ACTIONS`)."""
        return self.action in INTERRUPTING_ACTIONS


@dataclass(frozen=True, slots=True)
class ReportAction:
    """An action the runtime carried out after attempt ``attempt`` and what came of it."""

    type: str
    attempt: int
    rule: str | None = None
    outcome: str = ""
    checkpoint: int | None = None
    confidence: float | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def summary(self) -> str:
        """One line: ``retry: attempt 2 scheduled (rule weak-reasoning)``."""
        text = self.type + (f": {self.outcome}" if self.outcome else "")
        return text + (f" (rule {self.rule})" if self.rule else "")


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of answer text ``[char_start, char_end)`` and the checkpoint that scored it.

    ``text`` is ``None`` when the text was not recorded (only its length is known); ``event`` is
    ``None`` for text after the last checkpoint (not scored).
    """

    char_start: int
    char_end: int
    text: str | None
    event: CheckpointEvent | None


@dataclass(frozen=True, slots=True)
class ReportAttempt:
    """One generation of the answer, with its checkpoints, decisions and follow-up actions.

    ``answer`` is the text written (``None`` when the source did not record it); ``kind`` is
    ``initial``, ``retry``, ``escalate`` or ``self_correct``; ``actions`` are those carried out
    after this attempt; ``errors`` describe failures during it.
    """

    number: int
    model: str = ""
    kind: str = "initial"
    answer: str | None = None
    events: tuple[CheckpointEvent, ...] = ()
    decisions: tuple[ReportDecision, ...] = ()
    actions: tuple[ReportAction, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def final_confidence(self) -> float | None:
        """The last checkpoint's revised confidence (``None`` without checkpoints)."""
        return self.events[-1].revised if self.events else None

    @property
    def min_confidence(self) -> float | None:
        """The lowest revised confidence (``None`` without checkpoints)."""
        return min((event.revised for event in self.events), default=None)

    @property
    def status(self) -> str:
        """``error``, ``complete`` (an outcome checkpoint was scored) or ``interrupted``."""
        if self.errors:
            return "error"
        if any(event.stage is Stage.OUTCOME for event in self.events):
            return "complete"
        if self.actions or any(decision.interrupts for decision in self.decisions):
            return "interrupted"
        return "partial"

    @property
    def text_length(self) -> int:
        """Characters of answer known: the text's length, else the last checkpoint's end."""
        if self.answer is not None:
            return len(self.answer)
        return max((event.char_end for event in self.events), default=0)

    def segments(self) -> list[Segment]:
        """The answer cut at checkpoint spans, in order; unscored text is a final segment.

        Checkpoints with an empty span (the question checkpoint, an outcome right after the last
        process checkpoint) cover no text and give no segment.
        """
        answer = self.answer
        length = self.text_length
        segments: list[Segment] = []
        position = 0
        for event in self.events:
            start, end = max(event.char_start, position), min(event.char_end, length)
            if end <= start:
                continue
            if start > position:
                segments.append(_segment(answer, position, start, None))
            segments.append(_segment(answer, start, end, event))
            position = end
        if position < length:
            segments.append(_segment(answer, position, length, None))
        return segments


def _segment(answer: str | None, start: int, end: int, event: CheckpointEvent | None) -> Segment:
    text = None if answer is None else answer[start:end]
    return Segment(char_start=start, char_end=end, text=text, event=event)


@dataclass(frozen=True, slots=True)
class RunReport:
    """Everything one report page shows.

    ``status`` is the run's outcome (``ok``, ``flagged``, ``fallback``, ``aborted``, ...; for an
    inspection, what the policy would have done). ``policy_explanation`` is the plain-English
    summary of the policy (``None`` when the policy's definition is not known) and
    ``revised_note`` says how the BCI-revised values were obtained.
    """

    source: ReportSource
    question: str
    attempts: tuple[ReportAttempt, ...]
    status: str
    run_id: str | None = None
    policy_name: str | None = None
    policy_version: str | None = None
    policy_explanation: str | None = None
    policy_source: str | None = None
    revised_note: str = ""
    started: datetime | None = None
    duration_s: float | None = None
    final_answer: str | None = None
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def final_attempt(self) -> ReportAttempt | None:
        """The last attempt (``None`` when none was recorded)."""
        return self.attempts[-1] if self.attempts else None

    @property
    def final_confidence(self) -> float | None:
        """The last checkpoint's revised confidence in the final attempt."""
        attempt = self.final_attempt
        return None if attempt is None else attempt.final_confidence

    @property
    def title(self) -> str:
        """The page title."""
        if self.source == "inspect":
            return "Confidence inspection"
        return f"Guarded run {self.run_id}" if self.run_id else "Guarded run"
