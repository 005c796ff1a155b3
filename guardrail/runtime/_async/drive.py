"""Driving a guarded call (async): tenacity for the attempts, the review sink for reviews.

The async module is the one written by hand: ``scripts/unasync.py`` generates
:mod:`guardrail.runtime._sync.drive` from it (``tests/runtime/test_unasync.py`` fails when
the generated module is stale). Keep to what the script rewrites: ``async``/``await``,
``asyncio.to_thread(f, ...)`` (a plain call when sync), ``Async*`` types and the names
listed in the script.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_never

from guardrail.runtime._steps import (
    Attempt,
    NextAttempt,
    conclude,
    next_attempt_delay,
    wait_for,
)
from guardrail.runtime.gate import StreamGate
from guardrail.runtime.loop import GuardLoop, Review, Step
from guardrail.runtime.records import AttemptPlan, GuardedResult

__all__ = ["adrive", "aresolve_review", "aretrying", "arun_attempt", "arun_call"]

C = TypeVar("C")


def aretrying(sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> AsyncRetrying:
    """A tenacity retrier that retries on :class:`NextAttempt`, waiting its delay."""
    return AsyncRetrying(
        retry=retry_if_exception_type(NextAttempt),
        wait=next_attempt_delay,
        stop=stop_never,
        sleep=sleep,
        reraise=True,
    )


async def aresolve_review(loop: GuardLoop, step: Step) -> Step:
    """Carry out a :class:`Review` step (submit, and wait when blocking); other steps pass.

    The sink's blocking calls run in a worker thread on the async path.
    """
    if not isinstance(step, Review):
        return step
    sink = loop.review_sink
    assert sink is not None  # checked when the Review step was made
    review_id = await asyncio.to_thread(sink.submit, step.request)
    if not step.blocking:
        return loop.review_pending(review_id, step.report)
    outcome = await asyncio.to_thread(wait_for, sink, review_id, loop.review_timeout_s)
    return loop.reviewed(review_id, outcome, step.report)


async def adrive(
    gate: StreamGate[C],
    attempt: Callable[[AttemptPlan], AsyncIterable[C]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    settled: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[C]:
    """Run the gate's attempts, yielding what it releases; raise the call's signal if it fails.

    ``attempt(plan)`` runs one attempt, yielding what the gate releases, and ends it
    (:meth:`~guardrail.runtime.gate.StreamGate.end`). ``settled`` is called after each
    attempt's closing chunks (the adapter's events).
    """
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


async def arun_call(
    gate: StreamGate[C],
    attempt: Callable[[AttemptPlan], AsyncIterable[C]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    emit: Callable[[C], None] | None = None,
    settled: Callable[[], Awaitable[None]] | None = None,
) -> GuardedResult:
    """:func:`adrive` for the result: ``emit`` gets what the gate releases (else dropped)."""
    async for chunk in adrive(gate, attempt, sleep=sleep, settled=settled):
        if emit is not None:
            emit(chunk)
    assert gate.result is not None  # adrive() returns only after a Finish step
    return gate.result


async def arun_attempt(gate: StreamGate[C], attempt: Attempt[C]) -> AsyncIterator[C]:
    """Run one adapter :class:`~guardrail.runtime.Attempt`, yielding what the gate releases.

    Opens its stream, feeds each chunk to its watcher (in a worker thread on the async path)
    and to the gate, then reports the attempt from its output. The guard's own signal ends
    the stream and is kept by the gate; any other error abandons the watcher and propagates.
    """
    watcher = attempt.watcher
    chunks: list[C] = []
    try:
        with gate.attempt(raised_by=watcher.raised):
            if watcher.feeds:
                await asyncio.to_thread(watcher.start)
            stream = attempt.aopen()
            try:
                async for chunk in stream:
                    chunks.append(chunk)
                    if watcher.feeds:
                        await asyncio.to_thread(watcher.feed, chunk)
                    for released in gate.push(chunk, watcher.watches()):
                        yield released
            finally:
                await _aclose(stream)
            if watcher.feeds:
                await asyncio.to_thread(watcher.end)
    except BaseException as exc:
        watcher.abandon(exc)
        raise
    out = await asyncio.to_thread(attempt.output, chunks, gate.interrupted)
    if out.signal is not None:
        gate.signal = out.signal
    report = gate.end(
        watcher.watches(), out.output, text=out.text, model=out.model, reviewable=out.reviewable
    )
    attempt.reported(report)


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if callable(close):
        await close()
