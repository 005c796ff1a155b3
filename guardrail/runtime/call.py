"""GuardedCall: one guarded call of any framework, the one runtime object an adapter touches.

It owns the call's audit run, its :class:`~guardrail.runtime.loop.GuardLoop`, its
:class:`~guardrail.runtime.gate.StreamGate` and the review resolution, built from the policy
configuration (:class:`~guardrail.runtime.config.GuardConfig`) and a typed call description
(:class:`CallSpec`). The adapter implements the attempt protocol
(:class:`~guardrail.runtime.Attempt`: open the attempt's stream, let a
:class:`~guardrail.runtime.Watcher` read each chunk's text and logprobs, build the output) and
runs the call with one driver::

    call = GuardedCall(config, CallSpec(question, model="gpt-4o-mini", source="litellm"))
    result = call.run(lambda plan: MyAttempt(call, plan))     # or arun / stream / astream

The sync drivers are generated from the async ones (:mod:`guardrail.runtime._async.drive`).
A framework that relays one generation it does not run (the LiteLLM proxy) drives a single
attempt by hand: :meth:`GuardedCall.begin`, :meth:`~GuardedCall.attempt`,
:meth:`~GuardedCall.push`, :meth:`~GuardedCall.asettle`, :meth:`~GuardedCall.close`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from guardrail.errors import GuardSignal
from guardrail.policy import RunContext
from guardrail.runtime._async.drive import adrive, aresolve_review, arun_attempt
from guardrail.runtime._steps import Attempt, AttemptOutput, Watcher
from guardrail.runtime._sync.drive import drive, resolve_review, run_attempt
from guardrail.runtime.chunks import StreamingMode
from guardrail.runtime.gate import Frames, StreamGate
from guardrail.runtime.loop import Step
from guardrail.runtime.records import AttemptPlan, AttemptReport, GuardedResult
from guardrail.runtime.watch import AnswerWatch, WatchListener

if TYPE_CHECKING:
    from guardrail.audit.sink import AuditSink
    from guardrail.runtime.config import GuardConfig

__all__ = [
    "Attempt",
    "AttemptOutput",
    "CallSpec",
    "ChunkWatcher",
    "GuardedCall",
    "OpenAttempt",
    "Watcher",
]

C = TypeVar("C")

OpenAttempt = Callable[[AttemptPlan], Attempt[C]]
"""``plan -> attempt``: the adapter's attempt for the plan the loop chose."""


@dataclass(frozen=True, slots=True)
class CallSpec:
    """What one guarded call is, as its adapter describes it.

    ``question`` is what the scorer and a review item see; ``model`` the first generator's
    name; ``source`` the adapter (``metadata["source"]`` of review items and audit records);
    ``run_id`` the call's id (a fresh one when ``None``); ``dedupe_key`` a stable identity so
    that a repeated call reuses its review item; ``output_from_text`` rebuilds the
    framework's output from text (fallback and edited answers); ``listener`` hears the
    call's events (checkpoints, decisions, actions).
    """

    question: str
    model: str = ""
    source: str = ""
    run_id: str | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)
    dedupe_key: str | None = None
    output_from_text: Callable[[str], object] | None = None
    listener: WatchListener | None = None


class GuardedCall(Generic[C]):
    """One guarded call: audit run, action loop, stream gate and reviews (see module docs).

    ``frames`` builds the stream's markers (``None``: no markers); ``streaming`` releases the
    chunks pass-through, held back (at most ``hold_back_tokens``) or, ``None``, not at all (a
    call that returns its result, or a framework that streams the tokens itself).
    ``defer_review`` turns a blocking review into a pending one the adapter asks after the
    call. ``rng`` draws the retry backoff's jitter.
    """

    def __init__(
        self,
        config: GuardConfig,
        spec: CallSpec,
        *,
        frames: Frames[C] | None = None,
        streaming: StreamingMode | None = "pass_through",
        hold_back_tokens: int | None = None,
        defer_review: bool = False,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self.spec = spec
        self.run_id = spec.run_id or uuid.uuid4().hex
        self.audit: AuditSink | None = config.audit_run(self.run_id)
        loop = config.loop(
            spec.question,
            model=spec.model,
            output_from_text=spec.output_from_text,
            run_id=self.run_id,
            audit=self.audit,
            listener=spec.listener,
            metadata={"source": spec.source, **spec.metadata} if spec.source else spec.metadata,
            dedupe_key=spec.dedupe_key,
            rng=rng,
        )
        self._gate: StreamGate[C] = StreamGate(
            loop,
            frames,
            streaming=streaming,
            hold_back_tokens=hold_back_tokens,
            defer_review=defer_review,
        )

    def __repr__(self) -> str:
        return f"GuardedCall(run_id={self.run_id!r}, policy={self.config.policy.name!r})"

    # ------------------------------------------------------------------ state
    @property
    def plan(self) -> AttemptPlan:
        """The attempt being run (or to run next)."""
        return self._gate.plan

    @property
    def interrupted(self) -> bool:
        """True when the guard's signal stopped the current attempt."""
        return self._gate.interrupted

    @property
    def signal(self) -> GuardSignal | None:
        """The guard signal that stopped the current attempt, if any."""
        return self._gate.signal

    @property
    def shown(self) -> int:
        """How many chunks of the current attempt reached the caller."""
        return self._gate.shown

    @property
    def report(self) -> AttemptReport | None:
        """The current attempt's report, once it ended."""
        return self._gate.report

    @property
    def result(self) -> GuardedResult | None:
        """The call's result, once it finished."""
        return self._gate.result

    def watch(self, context: RunContext, question: str | None = None) -> AnswerWatch:
        """A new :class:`AnswerWatch` for one model run of this call, audited in its run."""
        asked = self.spec.question if question is None else question
        return self.config.watch(asked, context, audit=self.audit)

    # ---------------------------------------------------------------- drivers
    def stream(
        self,
        open_attempt: OpenAttempt[C],
        *,
        sleep: Callable[[float], None] = time.sleep,
        settled: Callable[[], None] | None = None,
    ) -> Iterator[C]:
        """Run the attempts, yielding what the gate releases (markers included).

        Raises the call's signal when it fails (an abort without fallback, a rejected
        review). ``settled`` is called after each attempt's closing chunks.
        """
        return drive(
            self._gate,
            lambda plan: run_attempt(self._gate, open_attempt(plan)),
            sleep=sleep,
            settled=settled,
        )

    def astream(
        self,
        open_attempt: OpenAttempt[C],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        settled: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[C]:
        """The async :meth:`stream` (scoring and reviews wait in worker threads)."""
        return adrive(
            self._gate,
            lambda plan: arun_attempt(self._gate, open_attempt(plan)),
            sleep=sleep,
            settled=settled,
        )

    def run(
        self,
        open_attempt: OpenAttempt[C],
        *,
        sleep: Callable[[float], None] = time.sleep,
        emit: Callable[[C], None] | None = None,
        settled: Callable[[], None] | None = None,
    ) -> GuardedResult:
        """:meth:`stream` for the result: ``emit`` gets what the gate releases (else dropped)."""
        for chunk in self.stream(open_attempt, sleep=sleep, settled=settled):
            if emit is not None:
                emit(chunk)
        assert self._gate.result is not None  # the drivers return only after a Finish step
        return self._gate.result

    async def arun(
        self,
        open_attempt: OpenAttempt[C],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        emit: Callable[[C], None] | None = None,
        settled: Callable[[], Awaitable[None]] | None = None,
    ) -> GuardedResult:
        """The async :meth:`run`."""
        async for chunk in self.astream(open_attempt, sleep=sleep, settled=settled):
            if emit is not None:
                emit(chunk)
        assert self._gate.result is not None
        return self._gate.result

    # ------------------------------------------------- one attempt, by hand
    def begin(self) -> AttemptPlan:
        """Start the (next) attempt; return its plan."""
        return self._gate.begin()

    @contextmanager
    def attempt(self, watch: AnswerWatch) -> Iterator[None]:
        """Run the attempt's framework code: keep ``watch``'s signal; another error ends the call.

        Any other error abandons ``watch`` and the call's audit run, and propagates.
        """
        try:
            with self._gate.attempt(watch=watch):
                yield
        except BaseException as exc:
            self._gate.loop.abandon(exc)
            raise

    def push(self, chunk: C, watches: Sequence[AnswerWatch]) -> list[C]:
        """Take one chunk (already fed to ``watches``); return the chunks to show now."""
        return self._gate.push(chunk, watches)

    def settle(self, watches: Sequence[AnswerWatch], output: object) -> Step:
        """End the attempt with ``output``; the loop's step, its review carried out."""
        self._gate.end(watches, output)
        return resolve_review(self._gate.loop, self._gate.settle())

    async def asettle(self, watches: Sequence[AnswerWatch], output: object) -> Step:
        """The async :meth:`settle` (the review sink's blocking calls in a worker thread)."""
        self._gate.end(watches, output)
        return await aresolve_review(self._gate.loop, self._gate.settle())

    def close(self, step: Step) -> list[C]:
        """What to emit after the attempt, given its settled ``step`` (held chunks, markers)."""
        return self._gate.close(step)

    # -------------------------------------------------------------- hand-off
    def hand_off(self, action: str, outcome: str, detail: Mapping[str, object]) -> GuardedResult:
        """Record that the framework acts on the attempt's decision; end the call unresolved.

        For a decision raised to the framework's own machinery (LangChain's retry and
        fallback middleware): the attempt and the ``action`` are recorded, and the audit run
        ends with status ``unresolved``.
        """
        loop = self._gate.loop
        report = self._gate.report
        if report is None:
            raise RuntimeError("hand_off() needs an ended attempt (its report)")
        decision = None if report.signal is None else report.signal.decision
        loop.ledger.attempt(loop.plan, report)
        loop.ledger.act(action, decision, outcome, dict(detail))
        result: GuardedResult = loop.ledger.result("unresolved", None, report.answer, None)
        loop.ledger.end(result)
        return result


class ChunkWatcher(Generic[C]):
    """A :class:`Watcher` that feeds one runtime :class:`AnswerWatch` from the chunks.

    ``text(chunk)`` and ``logprobs(chunk)`` read a chunk (the adapter's part).
    """

    feeds = True

    def __init__(
        self,
        watch: AnswerWatch,
        text: Callable[[C], str],
        logprobs: Callable[[C], object] | None = None,
    ) -> None:
        self.watch = watch
        self._text = text
        self._logprobs = logprobs

    def watches(self) -> Sequence[AnswerWatch]:
        """The one watch."""
        return (self.watch,)

    def raised(self, error: GuardSignal) -> bool:
        """True for the watch's own signal."""
        return error is self.watch.signal

    def abandon(self, error: BaseException) -> None:
        """End the watch on a foreign error."""
        self.watch.abandon(error)

    def start(self) -> None:
        """Score the question checkpoint."""
        self.watch.start()

    def feed(self, chunk: C) -> None:
        """Score one chunk's text and logprobs."""
        logprobs = None if self._logprobs is None else self._logprobs(chunk)
        self.watch.feed(self._text(chunk), logprobs)

    def end(self) -> None:
        """Score the outcome checkpoint."""
        self.watch.end()
