"""StreamGate: the attempts of one guarded call, as a state machine its adapter feeds (sans-IO).

The adapter runs each attempt in its framework and tells the gate what happened; the gate
answers with what to emit and keeps the call's state: the attempt, the chunks held back, the
signal that interrupted it, its :class:`~guardrail.runtime.records.AttemptReport` and the
loop's next step. It never waits, reads or writes: the drivers of
:mod:`guardrail.runtime.drive` (sync and async, a few lines each) sleep between attempts and
carry out reviews. One attempt, as a driver and an adapter run it::

    plan = gate.begin()                       # the attempt to run
    with gate.attempt(watch=watch):           # keeps the guard's own signal, re-raises others
        for chunk in stream:                  # the framework's stream (the adapter's part)
            emit(gate.push(chunk, [watch]))   # the chunks that may be shown now
    gate.end([watch], output)                 # the attempt's report
    step = resolve_review(gate.loop, gate.settle())
    emit(gate.close(step))                    # held chunks, restart/final markers, replacement
    conclude(step)                            # next attempt (after a delay), result, or raise

Chunks are released pass-through or held back (:class:`~guardrail.runtime.chunks.ChunkGate`);
``streaming=None`` releases none (a call that returns its result, or a framework that streams
the model's tokens itself). The markers it closes an attempt with, built by the adapter's
:class:`Frames`:

* before another attempt, when text of this one was shown: ``restart`` with ``next_attempt``
  and ``action`` (the attempt kind);
* when an interrupted answer is replaced (fallback answer, reviewed answer): ``restart`` with
  ``status`` and ``action`` (when text was shown), then the replacement text;
* last: ``final`` with the call's result (:meth:`~guardrail.runtime.records.GuardedResult.
  to_dict`), also when the call fails (``failed=True``: an abort without fallback answer, a
  rejected review), before the signal is raised.

A restart says how much to take back: ``discard_chunks`` (chunks the gate released) or, when
the framework streamed by itself, ``partial`` (the text written).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Generic, Literal, Protocol, TypeVar

from guardrail.errors import GuardSignal
from guardrail.runtime.chunks import ChunkGate, StreamingMode
from guardrail.runtime.loop import Again, Fail, Finish, GuardLoop, Review, Step
from guardrail.runtime.records import AttemptPlan, AttemptReport, GuardedResult
from guardrail.runtime.watch import AnswerWatch

__all__ = ["Frames", "MarkerKind", "StreamGate"]

C = TypeVar("C")
C_co = TypeVar("C_co", covariant=True)

MarkerKind = Literal["restart", "final"]
"""``restart``: take back what the attempt showed; ``final``: the call's result, last."""


class Frames(Protocol[C_co]):
    """How one stream type carries the gate's markers and a replacement answer.

    Either may return ``None`` when the stream cannot carry it (it is then left out).
    """

    def marker(
        self, kind: MarkerKind, payload: Mapping[str, object], *, failed: bool = False
    ) -> C_co | None:
        """A marker chunk: ``{"marker": kind, **payload}`` in the stream's own shape."""
        ...

    def text(self, text: str) -> C_co | None:
        """``text`` as one chunk of the stream (a fallback or reviewed answer)."""
        ...


class StreamGate(Generic[C]):
    """One guarded call's attempts, releases, markers and reports (see the module docs).

    ``frames`` builds the markers (``None``: no markers). ``streaming`` is ``"pass_through"``,
    ``"hold_back"`` (with at most ``hold_back_tokens`` chunks held) or ``None`` (nothing is
    released). ``defer_review`` turns a blocking review into a pending one: the adapter asks
    the human after the call (LangGraph's ``interrupt()``).
    """

    def __init__(
        self,
        loop: GuardLoop,
        frames: Frames[C] | None = None,
        *,
        streaming: StreamingMode | None = "pass_through",
        hold_back_tokens: int | None = None,
        defer_review: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loop = loop
        self.frames = frames
        self.streaming = streaming
        self.defer_review = defer_review
        self._chunks: ChunkGate[C] = ChunkGate(streaming or "pass_through", hold_back_tokens)
        self._clock = clock
        self._started = clock()
        self.signal: GuardSignal | None = None
        self.report: AttemptReport | None = None
        self.result: GuardedResult | None = None

    # ------------------------------------------------------------------ attempt
    @property
    def plan(self) -> AttemptPlan:
        """The attempt being run (or to run next)."""
        return self.loop.plan

    @property
    def shown(self) -> int:
        """How many chunks of the current attempt were released to the caller."""
        return self._chunks.shown

    @property
    def interrupted(self) -> bool:
        """True when the guard's signal stopped the current attempt."""
        return self.signal is not None

    def begin(self) -> AttemptPlan:
        """Start the next attempt: nothing held or shown, no signal; return its plan."""
        self._chunks.reset()
        self._started = self._clock()
        self.signal = None
        self.report = None
        return self.loop.plan

    @contextmanager
    def attempt(
        self,
        *,
        raised_by: Callable[[GuardSignal], bool] | None = None,
        watch: AnswerWatch | None = None,
    ) -> Iterator[None]:
        """Run the attempt's framework code: keep the guard's own signal, re-raise the rest.

        The signal is the guard's when ``raised_by`` says so, or when it is ``watch``'s. Any
        other error ends ``watch`` (:meth:`~guardrail.runtime.watch.AnswerWatch.abandon`).
        """
        try:
            yield
        except GuardSignal as exc:
            ours = (
                raised_by(exc)
                if raised_by is not None
                else watch is not None and exc is watch.signal
            )
            if not ours:
                if watch is not None:
                    watch.abandon(exc)
                raise
            self.signal = exc
        except BaseException as exc:
            if watch is not None:
                watch.abandon(exc)
            raise

    def push(self, chunk: C, watches: Sequence[AnswerWatch] = ()) -> list[C]:
        """Take one streamed chunk (already fed to ``watches``); return the chunks to show now."""
        if self.streaming is None:
            return []
        if self.streaming == "pass_through":
            return self._chunks.push(chunk, 0)
        return self._chunks.push(
            chunk,
            sum(watch.checkpoints_passed for watch in watches),
            fed=sum(watch.token_count for watch in watches),
            cleared=sum(watch.cleared_tokens for watch in watches),
        )

    def end(
        self,
        watches: Sequence[AnswerWatch],
        output: object,
        *,
        text: str | None = None,
        model: str | None = None,
        reviewable: bool = True,
    ) -> AttemptReport:
        """Report the attempt from its ``watches`` (the model runs it made) and its ``output``.

        ``text`` is the output's answer text when the adapter can read it (else the main
        watch's: the last one that saw text). ``model`` names the model that answered when it
        is not the plan's (a provider-side fallback). ``reviewable=False``: the answer is not
        one to send to review (a turn that only called tools).
        """
        signal = self.signal
        main = next((w for w in reversed(watches) if w.answer), watches[-1] if watches else None)
        if not self.loop.question and main is not None:
            self.loop.question = main.question
        if signal is not None:
            answer, events, output = signal.partial_answer, signal.events, None
        else:
            answer = text if text is not None else ("" if main is None else main.answer)
            events = () if main is None else main.events
        pending = next((w.pending_review for w in watches if w.pending_review is not None), None)
        self.report = AttemptReport(
            answer=answer,
            output=output,
            events=events,
            decisions=tuple(d for watch in watches for d in watch.decisions),
            flags=tuple(f for watch in watches for f in watch.flags),
            signal=signal,
            pending_review=pending if reviewable else None,
            duration_s=self._clock() - self._started,
            model=model,
        )
        return self.report

    # ---------------------------------------------------------------- settling
    def settle(self) -> Step:
        """The loop's step after the ended attempt (a :class:`Review` is the driver's to do)."""
        if self.report is None:
            raise RuntimeError("end() the attempt before settling it")
        step = self.loop.settle(self.report)
        if self.defer_review and isinstance(step, Review):
            step = replace(step, blocking=False)
        return step

    def close(self, step: Step) -> list[C]:
        """What to emit after the attempt, given the loop's resolved ``step``."""
        if isinstance(step, Finish):
            self.result = step.result
        released: list[C] = []
        if self.streaming is not None and self.signal is None:
            released = self._chunks.flush()
        else:
            self._chunks.discard()
        if self.frames is None:
            return released
        return [*released, *(c for c in self._markers(step, self.frames) if c is not None)]

    # ---------------------------------------------------------------- internals
    def _markers(self, step: Step, frames: Frames[C]) -> list[C | None]:
        report = self.report
        answer = "" if report is None else report.answer
        if isinstance(step, Again):
            again: dict[str, Any] = {"next_attempt": step.plan.attempt, "action": step.plan.kind}
            return [self._restart(again, answer, frames)]
        if isinstance(step, Finish):
            result = step.result
            markers: list[C | None] = []
            if self.signal is not None and result.status != "pending_review":
                # the interrupted answer was replaced: take it back, show the final one
                action = result.actions[-1].type if result.actions else None
                replaced: dict[str, Any] = {"status": result.status, "action": action}
                markers.append(self._restart(replaced, answer, frames))
                if result.answer:
                    markers.append(frames.text(result.answer))
            markers.append(frames.marker("final", result.to_dict()))
            return markers
        if isinstance(step, Fail) and isinstance(step.signal.result, GuardedResult):
            return [frames.marker("final", step.signal.result.to_dict(), failed=True)]
        return []

    def _restart(self, payload: dict[str, Any], answer: str, frames: Frames[C]) -> C | None:
        if self.streaming is None:  # the framework streamed the text itself
            return frames.marker("restart", {**payload, "partial": answer}) if answer else None
        shown = self.shown
        return frames.marker("restart", {**payload, "discard_chunks": shown}) if shown else None
