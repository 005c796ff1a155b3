"""The parts of a guarded call's drivers that neither wait nor read: steps, retries, reviews.

Shared by the async drivers (:mod:`guardrail.runtime._async.drive`, written by hand) and the
sync ones generated from them (:mod:`guardrail.runtime._sync.drive`, ``scripts/unasync.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tenacity import RetryCallState

from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.runtime.loop import Again, Fail, Finish, Step
from guardrail.runtime.records import AttemptReport, GuardedResult
from guardrail.runtime.review import ReviewOutcome, ReviewSink
from guardrail.runtime.watch import AnswerWatch

__all__ = [
    "Attempt",
    "AttemptOutput",
    "NextAttempt",
    "Watcher",
    "conclude",
    "next_attempt_delay",
    "wait_for",
]

C_contra = TypeVar("C_contra", contravariant=True)


class NextAttempt(Exception):
    """Raised inside a tenacity attempt to run ``step.plan`` after ``step.delay_s``."""

    def __init__(self, step: Again) -> None:
        super().__init__(f"attempt {step.plan.attempt} ({step.plan.kind})")
        self.step = step


def next_attempt_delay(state: RetryCallState) -> float:
    """Tenacity's wait: the delay of the :class:`NextAttempt` that ended the try (else 0)."""
    outcome = state.outcome
    exc = None if outcome is None else outcome.exception()
    return exc.step.delay_s if isinstance(exc, NextAttempt) else 0.0


def conclude(step: Step) -> GuardedResult:
    """Raise :class:`NextAttempt` for :class:`Again`, the signal for :class:`Fail`; else result."""
    if isinstance(step, Again):
        raise NextAttempt(step)
    if isinstance(step, Fail):
        raise step.signal
    if not isinstance(step, Finish):
        raise TypeError(f"resolve the {type(step).__name__} step before concluding")
    return step.result


def wait_for(sink: ReviewSink, review_id: str, timeout_s: float) -> ReviewOutcome:
    """Wait for review ``review_id``'s verdict (the sink's ``wait()``), at most ``timeout_s``."""
    wait = getattr(sink, "wait", None)
    if not callable(wait):
        raise GuardrailConfigError(
            f"blocking human review needs a review sink with wait(); {sink!r} has none"
        )
    outcome = wait(review_id, timeout_s)
    if not isinstance(outcome, ReviewOutcome):
        raise GuardrailConfigError(f"{sink!r}.wait() returned {outcome!r}, not a ReviewOutcome")
    return outcome


@dataclass(frozen=True, slots=True)
class AttemptOutput:
    """What an attempt produced, as its adapter reads it (see :class:`~guardrail.runtime.Attempt`).

    ``output`` is the framework's answer object (``None`` when the guard interrupted it);
    ``text`` its answer text when the adapter can read it (else the watches'); ``model`` the
    model that answered when not the plan's (a provider-side fallback); ``reviewable=False``
    for an answer not to send to review (a turn that only called tools); ``signal`` a guard
    signal the adapter raised after the stream (a tool call judged for another attempt).
    """

    output: object = None
    text: str | None = None
    model: str | None = None
    reviewable: bool = True
    signal: GuardSignal | None = None


class Watcher(Protocol[C_contra]):
    """Who scores an attempt's chunks: the runtime's own watch, or the framework's callbacks.

    ``feeds`` is false when the framework feeds the watches itself (LangChain's callback
    handler): ``start``/``feed``/``end`` are then never called.
    """

    @property
    def feeds(self) -> bool:
        """Whether the driver feeds each chunk to :meth:`feed`."""
        ...

    def watches(self) -> Sequence[AnswerWatch]:
        """The watches of this attempt (one per model run)."""
        ...

    def raised(self, error: GuardSignal) -> bool:
        """True when ``error`` is this attempt's own guard signal (kept; others re-raise)."""
        ...

    def abandon(self, error: BaseException) -> None:
        """The attempt ended on an error that is not the guard's: release its watches."""
        ...

    def start(self) -> None:
        """Score the question checkpoint (may raise the guard signal)."""
        ...

    def feed(self, chunk: C_contra) -> None:
        """Score one chunk (may raise the guard signal)."""
        ...

    def end(self) -> None:
        """Score the outcome checkpoint (may raise the guard signal)."""
        ...


C = TypeVar("C")


class Attempt(Protocol[C]):
    """One attempt of a guarded call, as its adapter runs it in its framework.

    The runtime opens it (:meth:`open` on the sync path, :meth:`aopen` on the async one),
    gives each chunk to the :attr:`watcher`, releases what the gate lets through, and builds
    the report from :meth:`output`; :meth:`reported` may then hand the decision to the
    framework by raising (LangChain's retry middleware). The adapter touches nothing else.
    """

    @property
    def watcher(self) -> Watcher[C]:
        """Who scores this attempt's chunks."""
        ...

    def open(self) -> Iterable[C]:
        """The attempt's stream, opened in the framework (sync path)."""
        ...

    def aopen(self) -> AsyncIterable[C]:
        """The attempt's stream, opened in the framework (async path)."""
        ...

    def output(self, chunks: Sequence[C], interrupted: bool) -> AttemptOutput:
        """The attempt's output from the ``chunks`` it streamed (``interrupted``: cut short)."""
        ...

    def reported(self, report: AttemptReport) -> None:
        """The attempt was reported; raise here to hand the decision to the framework."""
        ...
