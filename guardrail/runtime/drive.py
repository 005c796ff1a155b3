"""Driving a guarded call: tenacity for the attempts, the review sink for review steps.

:func:`drive` / :func:`adrive` run a :class:`~guardrail.runtime.gate.StreamGate`'s attempts
and yield what it releases; :func:`run_call` / :func:`arun_call` run them for the result alone. The
adapter's ``attempt(plan)`` runs one attempt in its framework (feeding the gate, yielding what
:meth:`~guardrail.runtime.gate.StreamGate.push` releases) and ends it with
:meth:`~guardrail.runtime.gate.StreamGate.end`; the driver settles it, carries out a review
step, yields the closing chunks and then runs the next attempt after the policy's delay (a
tenacity loop retried on :class:`NextAttempt`), returns, or raises the call's signal.
:func:`run_attempts` drives a bare :class:`~guardrail.runtime.loop.GuardLoop` whose attempts
return their own :class:`~guardrail.runtime.records.AttemptReport`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception_type, stop_never

from guardrail.errors import GuardrailConfigError
from guardrail.runtime.gate import StreamGate
from guardrail.runtime.loop import Again, Fail, Finish, GuardLoop, Review, Step
from guardrail.runtime.records import AttemptPlan, AttemptReport, GuardedResult
from guardrail.runtime.review import ReviewOutcome, ReviewSink

__all__ = [
    "NextAttempt",
    "adrive",
    "aresolve_review",
    "aretrying",
    "arun_call",
    "conclude",
    "drive",
    "resolve_review",
    "retrying",
    "run_attempts",
    "run_call",
]

C = TypeVar("C")


class NextAttempt(Exception):
    """Raised inside a tenacity attempt to run ``step.plan`` after ``step.delay_s``."""

    def __init__(self, step: Again) -> None:
        super().__init__(f"attempt {step.plan.attempt} ({step.plan.kind})")
        self.step = step


def _wait(state: RetryCallState) -> float:
    outcome = state.outcome
    exc = None if outcome is None else outcome.exception()
    return exc.step.delay_s if isinstance(exc, NextAttempt) else 0.0


def retrying(sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """A tenacity ``Retrying`` that retries on :class:`NextAttempt`, waiting its delay."""
    return Retrying(
        retry=retry_if_exception_type(NextAttempt),
        wait=_wait,
        stop=stop_never,
        sleep=sleep,
        reraise=True,
    )


def aretrying(sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> AsyncRetrying:
    """The async counterpart of :func:`retrying`."""
    return AsyncRetrying(
        retry=retry_if_exception_type(NextAttempt),
        wait=_wait,
        stop=stop_never,
        sleep=sleep,
        reraise=True,
    )


def conclude(step: Step) -> GuardedResult:
    """Raise :class:`NextAttempt` for :class:`Again`, the signal for :class:`Fail`; else result."""
    if isinstance(step, Again):
        raise NextAttempt(step)
    if isinstance(step, Fail):
        raise step.signal
    if not isinstance(step, Finish):
        raise TypeError(f"resolve the {type(step).__name__} step before concluding")
    return step.result


def resolve_review(loop: GuardLoop, step: Step) -> Step:
    """Carry out a :class:`Review` step (submit, and wait when blocking); other steps pass."""
    if not isinstance(step, Review):
        return step
    sink = loop.review_sink
    assert sink is not None  # checked when the Review step was made
    review_id = sink.submit(step.request)
    if not step.blocking:
        return loop.review_pending(review_id, step.report)
    outcome = _wait_for(sink, review_id, loop.review_timeout_s)
    return loop.reviewed(review_id, outcome, step.report)


async def aresolve_review(loop: GuardLoop, step: Step) -> Step:
    """:func:`resolve_review` with the sink's blocking calls run in a worker thread."""
    if not isinstance(step, Review):
        return step
    sink = loop.review_sink
    assert sink is not None
    review_id = await asyncio.to_thread(sink.submit, step.request)
    if not step.blocking:
        return loop.review_pending(review_id, step.report)
    outcome = await asyncio.to_thread(_wait_for, sink, review_id, loop.review_timeout_s)
    return loop.reviewed(review_id, outcome, step.report)


def _wait_for(sink: ReviewSink, review_id: str, timeout_s: float) -> ReviewOutcome:
    wait = getattr(sink, "wait", None)
    if not callable(wait):
        raise GuardrailConfigError(
            f"blocking human review needs a review sink with wait(); {sink!r} has none"
        )
    outcome = wait(review_id, timeout_s)
    if not isinstance(outcome, ReviewOutcome):
        raise GuardrailConfigError(f"{sink!r}.wait() returned {outcome!r}, not a ReviewOutcome")
    return outcome


# ------------------------------------------------------------------------- drivers
def drive(
    gate: StreamGate[C],
    attempt: Callable[[AttemptPlan], Iterable[C]],
    *,
    sleep: Callable[[float], None] = time.sleep,
    settled: Callable[[], None] | None = None,
) -> Iterator[C]:
    """Run the gate's attempts, yielding what it releases; raise the call's signal if it fails.

    ``settled`` is called after each attempt's closing chunks (the adapter's events).
    """
    try:
        for retry in retrying(sleep):
            with retry:
                yield from attempt(gate.begin())
                step = resolve_review(gate.loop, gate.settle())
                yield from gate.close(step)
                if settled is not None:
                    settled()
                conclude(step)
                return
    except BaseException as exc:
        gate.loop.abandon(exc)
        raise


async def adrive(
    gate: StreamGate[C],
    attempt: Callable[[AttemptPlan], AsyncIterable[C]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    settled: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[C]:
    """The async counterpart of :func:`drive` (reviews wait in a worker thread)."""
    try:
        async for retry in aretrying(sleep):
            with retry:
                async for chunk in attempt(gate.begin()):
                    yield chunk
                step = await aresolve_review(gate.loop, gate.settle())
                for chunk in gate.close(step):
                    yield chunk
                if settled is not None:
                    await settled()
                conclude(step)
                return
    except BaseException as exc:
        gate.loop.abandon(exc)
        raise


def run_call(
    gate: StreamGate[C],
    attempt: Callable[[AttemptPlan], Iterable[C]],
    *,
    sleep: Callable[[float], None] = time.sleep,
    emit: Callable[[C], None] | None = None,
    settled: Callable[[], None] | None = None,
) -> GuardedResult:
    """:func:`drive` for the result: ``emit`` gets what the gate releases (else dropped)."""
    for chunk in drive(gate, attempt, sleep=sleep, settled=settled):
        if emit is not None:
            emit(chunk)
    assert gate.result is not None  # drive() returns only after a Finish step
    return gate.result


async def arun_call(
    gate: StreamGate[C],
    attempt: Callable[[AttemptPlan], AsyncIterable[C]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    emit: Callable[[C], None] | None = None,
    settled: Callable[[], Awaitable[None]] | None = None,
) -> GuardedResult:
    """The async counterpart of :func:`run_call`."""
    async for chunk in adrive(gate, attempt, sleep=sleep, settled=settled):
        if emit is not None:
            emit(chunk)
    assert gate.result is not None
    return gate.result


def run_attempts(
    loop: GuardLoop,
    attempt: Callable[[AttemptPlan], AttemptReport],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> GuardedResult:
    """Run attempts that report themselves until the loop finishes; return its result."""
    gate: StreamGate[Any] = StreamGate(loop, streaming=None)

    def reported(plan: AttemptPlan) -> tuple[()]:
        gate.report = attempt(plan)
        return ()

    return run_call(gate, reported, sleep=sleep)
