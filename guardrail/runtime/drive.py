"""Driving a GuardLoop: tenacity for the attempts, the review sink for review steps.

:func:`run_attempts` / :func:`arun_attempts` run a whole call for adapters whose attempts
return an :class:`~guardrail.runtime.loop.AttemptReport`. Streaming adapters drive the loop
from their generators with :func:`retrying` / :func:`aretrying` (raise :class:`NextAttempt`
inside a tenacity attempt to run the next one after the policy's delay), and
:func:`resolve_review` / :func:`aresolve_review` for review steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception_type, stop_never

from guardrail.errors import GuardrailConfigError
from guardrail.runtime.loop import (
    Again,
    AttemptPlan,
    AttemptReport,
    Fail,
    Finish,
    GuardLoop,
    Review,
    Step,
)
from guardrail.runtime.records import GuardedResult
from guardrail.runtime.review import ReviewOutcome, ReviewSink

__all__ = [
    "NextAttempt",
    "aresolve_review",
    "aretrying",
    "arun_attempts",
    "conclude",
    "resolve_review",
    "retrying",
    "run_attempts",
]


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


def run_attempts(
    loop: GuardLoop,
    attempt: Callable[[AttemptPlan], AttemptReport],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> GuardedResult:
    """Run attempts until the loop finishes; return its result or raise its signal."""
    try:
        for retry in retrying(sleep):
            with retry:
                return conclude(resolve_review(loop, loop.settle(attempt(loop.plan))))
    except BaseException as exc:
        loop.abandon(exc)
        raise
    raise AssertionError("unreachable: tenacity stops only by returning or raising")


async def arun_attempts(
    loop: GuardLoop,
    attempt: Callable[[AttemptPlan], Awaitable[AttemptReport]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> GuardedResult:
    """The async counterpart of :func:`run_attempts`."""
    try:
        async for retry in aretrying(sleep):
            with retry:
                report = await attempt(loop.plan)
                return conclude(await aresolve_review(loop, loop.settle(report)))
    except BaseException as exc:
        loop.abandon(exc)
        raise
    raise AssertionError("unreachable: tenacity stops only by returning or raising")
