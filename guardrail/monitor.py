"""ConfidenceMonitor: confidence checkpoints over one streamed answer, for any framework.

Feed it the answer token by token; it keeps one scoring session open, asks the scorer for a
confidence only where the triggers place a checkpoint, and revises earlier estimates with later
ones by Backward Confidence Integration (:mod:`guardrail.bci`). Adapters (LangChain callbacks,
litellm streams, a plain loop) only translate their stream into :meth:`ConfidenceMonitor.feed`.

Entropy for entropy triggers: ``source="logprobs"`` uses the token's logprobs (none: the
trigger never fires); ``"scorer"`` asks ``session.entropy()`` *before* the token is appended,
i.e. the scorer LM's uncertainty about that token (``None``: no entropy checkpoint there);
``"auto"`` uses logprobs from the first token that carries them on and the scorer until then,
so a stream never goes back to the other scale once logprobs appear. Events carry that entropy;
with no entropy trigger they carry their token's logprobs entropy when given, else ``None``.

BCI chains all events, question and outcome included: each new event revises the
``bci.depth`` events before it, and ``events[i].revisions`` (``revision_history[i]``) lists
every value ``events[i].revised`` has taken, the current one last. With ``bci.width > 0`` and
``depth > 0``, every question and process checkpoint also samples ``width`` continuations with
``future_sampler`` and scores ``prefix + continuation`` with ``scorer.score_batch``; these leaf
futures are averaged with the observed path, each of the ``width + 1`` paths weighing the same
(formula in :mod:`guardrail.bci`). The outcome has no future and samples nothing.

Errors: scorer and sampler failures propagate, :class:`GuardrailRuntimeError` subclasses
(:class:`ScorerUnavailableError`, :class:`ScorerTimeoutError`, ...) unchanged and anything else
as a :class:`ScorerUnavailableError` chained to it; a failure ends the monitor and closes its
session. Out-of-order use raises :class:`MonitorStateError`.

Scoring beside the stream: checkpoints are *requested* (:mod:`guardrail.scorers.tickets`) and
*land* when their score is in. With ``settings.blocking`` (the default) each request is waited
for at once, so ``feed`` returns the event of its own checkpoint. Non-blocking, ``feed`` returns
at once and events land, in order, during later ``feed``/``poll`` calls and at the latest in
``finish``; ``events[i].tokens_passed`` says how many tokens streamed meanwhile. ``scoring``
picks who scores: :class:`~guardrail.scorers.tickets.DirectScoring` (the default: this thread)
or a :class:`~guardrail.scoring_worker.ScoringWorker` (one thread per process, batching
concurrent streams, and the only one that can cut a wait short).

Deadlines and overload: ``deadline_s`` bounds the wait for each checkpoint, from its request.
A checkpoint past it is abandoned (a late result is dropped) and raises
:class:`ScorerTimeoutError`, except that with ``overload`` set a *process* checkpoint past it
is an overload, and so is a process checkpoint requested while the scorer is behind (the
previous one of this answer not started yet, or ``scoring.behind()``): ``skip_process`` skips
it (recorded in :attr:`ConfidenceMonitor.skipped` and told to ``on_skip``),
``fail_open``/``fail_closed`` raise :class:`ScorerOverloadedError`.
"""

from __future__ import annotations

import math
import numbers
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal

from guardrail.bci import integrate_paths
from guardrail.entropy import logprobs_entropy
from guardrail.errors import (
    ConfigIssue,
    GuardrailConfigError,
    GuardrailRuntimeError,
    ScorerOverloadedError,
    ScorerTimeoutError,
    ScorerUnavailableError,
)
from guardrail.events import CheckpointEvent, Stage
from guardrail.scorers.base import Scorer, StageCalibratedScorer
from guardrail.scorers.tickets import CheckpointScoring, DirectScoring, ScoreTicket, ScoringStream
from guardrail.triggers.base import AnswerText
from guardrail.triggers.config import BCISettings, CheckpointSettings
from guardrail.triggers.registry import build_trigger

__all__ = [
    "DEFAULT_BCI",
    "DEFAULT_CHECKPOINTS",
    "ConfidenceMonitor",
    "FutureSampler",
    "MonitorStateError",
    "OverloadMode",
    "SkippedCheckpoint",
]

FutureSampler = Callable[[str, str, int], Sequence[str]]
"""``(question, answer_prefix, n) -> n`` sampled continuations of the prefix, each running up
to where the next checkpoint would be (e.g. the end of the next line)."""

OverloadMode = Literal["skip_process", "fail_closed", "fail_open"]
"""What gives when the scorer falls behind (the policy's ``overload``)."""

DEFAULT_CHECKPOINTS = CheckpointSettings()
DEFAULT_BCI = BCISettings()


class MonitorStateError(GuardrailRuntimeError):
    """The monitor was used out of order (after ``finish``, ``close`` or a scorer failure)."""


@dataclass(frozen=True, slots=True)
class SkippedCheckpoint:
    """A process checkpoint left unscored because the scorer fell behind.

    ``cause`` is ``"behind"`` (skipped when requested) or ``"deadline"`` (its score was not in
    by the deadline; a late result is dropped). ``token_index`` is where it was placed.
    """

    stage: Stage
    reason: str
    token_index: int
    cause: Literal["behind", "deadline"]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "stage": self.stage.value,
            "reason": self.reason,
            "token_index": self.token_index,
            "cause": self.cause,
            "detail": self.detail,
        }


class _State(Enum):
    NEW = "new"
    RUNNING = "running"
    FINISHED = "finished"
    CLOSED = "closed"
    FAILED = "failed"


class _NoStream:
    """Stands in for the scoring stream before ``start`` and after it is released."""

    def append(self, text: str, logprobs: object = None) -> None:
        raise MonitorStateError("no scoring session is open")

    def request(self, deadline_s: float | None = None) -> ScoreTicket:
        raise MonitorStateError("no scoring session is open")

    def entropy(self) -> float | None:
        raise MonitorStateError("no scoring session is open")

    def close(self) -> None:
        return None


_NO_STREAM: ScoringStream = _NoStream()


@dataclass(slots=True)
class _Pending:
    """A requested checkpoint whose score has not landed yet."""

    stage: Stage
    reason: str
    entropy: float | None
    sample: bool
    token_index: int
    char_start: int
    char_end: int
    ticket: ScoreTicket
    requested: float
    due: float = math.inf
    extended: int = 0


class ConfidenceMonitor:
    """Confidence checkpoints and their BCI revisions for one answer to ``question``.

    * ``start()`` opens the scoring session (``scorer.open_session(question)``) and, if
      ``settings.score_question``, scores the question alone (event 0, stage ``QUESTION``). The
      first ``feed`` calls it implicitly; call it yourself to receive that event.
    * ``feed(token_text, logprobs)`` appends one token to the session and runs the triggers;
      when they fire it scores the text so far and returns the ``PROCESS`` event, else ``None``.
      An empty ``token_text`` is ignored. ``logprobs`` are this token's OpenAI-shaped logprobs
      (:mod:`guardrail.entropy`), used by entropy triggers and recorded on events, and handed
      to a session that reads them (:class:`~guardrail.scorers.base.TokenLogprobSession`:
      ``append_token(text, logprobs)`` instead of ``append(text)``, e.g. a ``logprob:`` scorer).
    * ``scorer_mismatch`` is copied onto every event (see :mod:`guardrail.scorers.card`).
    * ``finish()`` scores the whole answer (stage ``OUTCOME``; ``None`` when
      ``settings.score_outcome`` is off) and closes the session. ``close()`` releases the
      session without scoring (for an aborted generation). Afterwards ``feed``/``finish`` raise
      :class:`MonitorStateError`.

    Non-blocking (``settings.blocking`` false), these calls return the event of their own
    checkpoint only when it landed already; every event appears in :attr:`events` when it
    lands (``poll`` lands what is in without feeding). ``events[i].index == i``;
    ``latency_s`` is the time from the checkpoint's request to its score. Entropy, BCI,
    deadlines and errors: see the module documentation.
    """

    __slots__ = (
        "_answer",
        "_char_mark",
        "_clock",
        "_deadline",
        "_entropy_source",
        "_events",
        "_failure",
        "_future_sampler",
        "_futures",
        "_logprobs_seen",
        "_on_skip",
        "_overload",
        "_pending",
        "_raw",
        "_scorer_name",
        "_scoring",
        "_skipped",
        "_stage_maps",
        "_state",
        "_stream",
        "_token_count",
        "_token_session",
        "_trigger",
        "bci",
        "question",
        "scorer_mismatch",
        "settings",
    )

    def __init__(
        self,
        scorer: Scorer | CheckpointScoring,
        question: str,
        settings: CheckpointSettings = DEFAULT_CHECKPOINTS,
        bci: BCISettings = DEFAULT_BCI,
        future_sampler: FutureSampler | None = None,
        clock: Callable[[], float] = time.perf_counter,
        *,
        deadline_s: float | None = None,
        overload: OverloadMode | None = None,
        on_skip: Callable[[SkippedCheckpoint], None] | None = None,
        scorer_mismatch: bool | None = None,
    ) -> None:
        if bci.width > 0 and future_sampler is None:
            raise GuardrailConfigError(
                [
                    ConfigIssue(
                        f"width {bci.width} averages sampled future paths and needs a "
                        "future_sampler",
                        key_path="bci.width",
                        expected="0 without a future_sampler",
                    )
                ]
            )
        if deadline_s is not None and not deadline_s > 0:
            raise GuardrailConfigError(f"deadline_s must be a positive number, got {deadline_s}")
        self.question = question
        self.settings = settings
        self.bci = bci
        if isinstance(scorer, CheckpointScoring):
            self._scoring: CheckpointScoring = scorer
        else:
            self._scoring = DirectScoring(scorer, clock)
        self._scorer_name = self._scoring.name
        behind = self._scoring.scorer
        self._stage_maps = behind if isinstance(behind, StageCalibratedScorer) else None
        self.scorer_mismatch = scorer_mismatch
        self._future_sampler = future_sampler
        self._clock = clock
        self._deadline = deadline_s
        self._overload: OverloadMode | None = overload
        self._on_skip = on_skip
        self._trigger = build_trigger(settings)
        self._entropy_source = self._trigger.entropy_source
        self._answer = AnswerText()
        self._stream = _NO_STREAM
        self._state = _State.NEW
        self._failure: GuardrailRuntimeError | None = None
        self._token_count = 0
        self._char_mark = 0
        self._logprobs_seen = False
        self._events: list[CheckpointEvent] = []
        self._raw: list[float] = []
        self._futures: list[tuple[float, ...]] = []
        self._pending: deque[_Pending] = deque()
        self._skipped: list[SkippedCheckpoint] = []

    # ------------------------------------------------------------------------- state
    @property
    def events(self) -> tuple[CheckpointEvent, ...]:
        """Every event landed so far, each with its latest BCI revision."""
        return tuple(self._events)

    @property
    def revision_history(self) -> tuple[tuple[float, ...], ...]:
        """Per event index, the values its ``revised`` confidence has taken, oldest first."""
        return tuple(event.revisions for event in self._events)

    @property
    def skipped(self) -> tuple[SkippedCheckpoint, ...]:
        """Process checkpoints skipped because the scorer fell behind (``skip_process``)."""
        return tuple(self._skipped)

    @property
    def pending(self) -> int:
        """Checkpoints requested whose score has not landed yet."""
        return len(self._pending)

    @property
    def answer(self) -> str:
        """The answer text fed so far."""
        return self._answer.text

    @property
    def token_count(self) -> int:
        """Number of (non-empty) tokens fed so far."""
        return self._token_count

    @property
    def finished(self) -> bool:
        """True once ``finish`` or ``close`` ran, or a failure ended the monitor."""
        return self._state not in (_State.NEW, _State.RUNNING)

    # --------------------------------------------------------------------------- api
    def start(self) -> CheckpointEvent | None:
        """Open the scoring session and score the question; ``None`` if not scored or started."""
        if self._state is not _State.NEW:
            if self._state is _State.RUNNING:
                return None
            raise self._state_error("start()")
        with self._guard(f"scorer {self._scorer_name!r} open_session()"):
            self._stream = self._scoring.open(self.question)
        self._state = _State.RUNNING
        if not self.settings.score_question:
            return None
        return self._checkpoint(Stage.QUESTION, "question", None, sample=True)

    def feed(self, token_text: str, logprobs: object = None) -> CheckpointEvent | None:
        """Add one streamed token; return the checkpoint event it triggered, if landed."""
        if self._state is not _State.RUNNING:
            if self._state is not _State.NEW:
                raise self._state_error("feed()")
            self.start()
        if not token_text:
            self._settle(block=False)
            return None
        index = self._token_count
        entropy = None if self._entropy_source is None else self._token_entropy(logprobs)
        self._answer.append(token_text)
        self._token_count = index + 1
        with self._guard(f"scorer {self._scorer_name!r} session.append()"):
            self._stream.append(token_text, logprobs)
        reason = self._trigger.observe(token_text, index, self._answer, entropy)
        if reason is None:
            self._settle(block=False)
            return None
        if entropy is None and logprobs is not None:
            entropy = logprobs_entropy(logprobs)
        return self._checkpoint(Stage.PROCESS, reason, entropy, sample=True)

    def poll(self) -> list[CheckpointEvent]:
        """Land the checkpoints whose score is in (non-blocking mode); return them in order."""
        if self._state is not _State.RUNNING:
            return []
        return self._settle(block=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every requested checkpoint's score is in, without landing them.

        Returns whether they all are (``timeout`` seconds at most, ``None``: for ever).
        """
        end = None if timeout is None else time.perf_counter() + timeout
        for pending in list(self._pending):
            remaining = None if end is None else max(0.0, end - time.perf_counter())
            if not pending.ticket.wait(remaining):
                return False
        return True

    def finish(self) -> CheckpointEvent | None:
        """Score the complete answer (``OUTCOME``), land every checkpoint, close the session."""
        if self._state is not _State.RUNNING:
            if self._state is not _State.NEW:
                raise self._state_error("finish()")
            self.start()
        event = None
        if self.settings.score_outcome:
            event = self._checkpoint(Stage.OUTCOME, "outcome", None, sample=False, block=True)
        else:
            self._settle(block=True)
        self._release(_State.FINISHED)
        return event

    def close(self) -> None:
        """Release the scoring session without an outcome score; idempotent."""
        if self._state in (_State.NEW, _State.RUNNING):
            self._release(_State.CLOSED)

    # ------------------------------------------------------------------- internals
    def _token_entropy(self, logprobs: object) -> float | None:
        source = self._entropy_source
        if source != "scorer" and logprobs is not None:
            value = logprobs_entropy(logprobs)
            if value is not None:
                self._logprobs_seen = True
                return value
        if source == "logprobs" or self._logprobs_seen:
            return None
        with self._guard(f"scorer {self._scorer_name!r} session.entropy()"):
            value = self._stream.entropy()
            return None if value is None else _checked_entropy(value)

    def _checkpoint(
        self,
        stage: Stage,
        reason: str,
        entropy: float | None,
        *,
        sample: bool,
        block: bool | None = None,
    ) -> CheckpointEvent | None:
        """Request a checkpoint at the current token; land what is in; return its event."""
        if stage is Stage.PROCESS and self._overload is not None and self._behind():
            detail = "the scorer is behind: " + (
                "this answer's previous checkpoint is still queued"
                if any(not p.ticket.started() for p in self._pending)
                else "its queue is full or a checkpoint ran past its deadline"
            )
            self._overloaded(stage, reason, self._token_count, "behind", detail)
            self._settle(block=False)
            return None
        with self._guard(f"scorer {self._scorer_name!r} session.score()"):
            ticket = self._stream.request(self._deadline)
        char_end = len(self._answer)
        pending = _Pending(
            stage=stage,
            reason=reason,
            entropy=entropy,
            sample=sample,
            token_index=self._token_count,
            char_start=self._char_mark,
            char_end=char_end,
            ticket=ticket,
            requested=time.perf_counter(),
        )
        if self._deadline is not None:
            pending.due = pending.requested + self._deadline
        self._char_mark = char_end
        self._pending.append(pending)
        landed = self._settle(block=self.settings.blocking if block is None else block)
        for event in landed:
            if event.token_index == pending.token_index and event.stage is stage:
                return event
        return None

    def _behind(self) -> bool:
        if any(not pending.ticket.started() for pending in self._pending):
            return True
        return self._scoring.behind()

    def _settle(self, *, block: bool) -> list[CheckpointEvent]:
        """Land the requested checkpoints in order; wait for them (deadline-bound) if ``block``."""
        landed: list[CheckpointEvent] = []
        deadline = self._deadline
        while self._pending:
            head = self._pending[0]
            ticket = head.ticket
            if not ticket.done():
                if deadline is None:
                    if not block:
                        break
                    ticket.wait(None)
                else:
                    if block:
                        ticket.wait(max(0.0, head.due - time.perf_counter()))
                    if not ticket.done():
                        if head.due > time.perf_counter():
                            break  # not late yet: land it on a later call
                        if self._keep_waiting(head, deadline):
                            continue
                        self._pending.popleft()
                        self._missed(head, f"no score after {deadline:g}s", slow=False)
                        continue
            self._pending.popleft()
            latency = ticket.latency_s
            # late is late whether the answer is a value or an error (a remote call given up at
            # its deadline): discarded and reported as an overload or a timeout, never read
            if deadline is not None and latency > deadline and not self._late_kept(head):
                self._missed(head, f"its score took {latency:.3f}s", slow=True)
                continue
            with self._guard(f"scorer {self._scorer_name!r} session.score()"):
                value = ticket.result()
                confidence = _checked_confidence(value)
            landed.append(self._land(head, confidence, latency))
        return landed

    def _keep_waiting(self, head: _Pending, deadline: float) -> bool:
        """Past its deadline, a question/outcome estimate of a slow scorer is waited for.

        Only with ``overload: skip_process`` and while the scorer shows progress (it is slow,
        not hung): the wait is extended by another ``deadline``. A hung scorer (no progress
        for a whole deadline) gets :class:`ScorerTimeoutError` and the policy's ``on_error``.
        """
        if head.stage is Stage.PROCESS or self._overload is None:
            return False
        if not self._scoring.progressing(deadline):
            return False
        if self._overload != "skip_process":
            head.ticket.abandon()
            self._pending.popleft()
            detail = (
                f"{head.stage.value} checkpoint: the scorer is slow (no score after "
                f"{time.perf_counter() - head.requested:.3f}s, budget {deadline:g}s)"
            )
            raise self._fail(ScorerOverloadedError(detail))
        head.due = time.perf_counter() + deadline
        head.extended += 1
        return True

    def _late_kept(self, head: _Pending) -> bool:
        """A late question/outcome score is kept under ``skip_process`` (slow, not hung)."""
        return head.stage is not Stage.PROCESS and self._overload == "skip_process"

    def _missed(self, pending: _Pending, what: str, *, slow: bool) -> None:
        """``pending`` missed its deadline: skip it (overload) or fail the monitor.

        ``slow``: its score came, late (an overload when the policy says what gives); else
        the scorer never answered (a timeout: ``on_error``).
        """
        pending.ticket.abandon()
        detail = (
            f"{pending.stage.value} checkpoint at token {pending.token_index}: {what}, over the "
            f"latency budget of {self._deadline:g}s; the late result is discarded"
        )
        if pending.stage is Stage.PROCESS and self._overload is not None:
            self._overloaded(pending.stage, pending.reason, pending.token_index, "deadline", detail)
            return
        if slow and self._overload is not None:
            raise self._fail(ScorerOverloadedError(detail))
        raise self._fail(ScorerTimeoutError(detail))

    def _overloaded(
        self,
        stage: Stage,
        reason: str,
        token_index: int,
        cause: Literal["behind", "deadline"],
        detail: str,
    ) -> None:
        if self._overload != "skip_process":
            raise self._fail(ScorerOverloadedError(detail))
        skipped = SkippedCheckpoint(stage, reason, token_index, cause, detail)
        self._skipped.append(skipped)
        if self._on_skip is not None:
            self._on_skip(skipped)

    def _land(self, pending: _Pending, confidence: float, latency: float) -> CheckpointEvent:
        if self._stage_maps is not None:  # the scorer's map for this stage (question/process/...)
            confidence = self._stage_maps.for_stage(confidence, pending.stage.value)
        bci = self.bci
        futures: tuple[float, ...] = ()
        if pending.sample and bci.width > 0 and bci.depth > 0:
            futures = self._sample_futures(self._answer.text[: pending.char_end], bci.width)
        self._raw.append(confidence)
        self._futures.append(futures)
        revised = self._revise()
        event = CheckpointEvent(
            index=len(self._events),
            stage=pending.stage,
            reason=pending.reason,
            token_index=pending.token_index,
            char_start=pending.char_start,
            char_end=pending.char_end,
            confidence=confidence,
            revised=revised,
            latency_s=latency,
            entropy=pending.entropy,
            revisions=(revised,),
            tokens_passed=self._token_count - pending.token_index,
            scorer_mismatch=self.scorer_mismatch,
            truncated_tokens=pending.ticket.truncated_tokens,
        )
        self._events.append(event)
        return event

    def _sample_futures(self, prefix: str, width: int) -> tuple[float, ...]:
        sampler = self._future_sampler
        assert sampler is not None  # checked in __init__
        with self._guard("future_sampler"):
            continuations = list(sampler(self.question, prefix, width))
            if len(continuations) != width or not all(isinstance(c, str) for c in continuations):
                raise ScorerUnavailableError(
                    f"future_sampler must return {width} strings, got {continuations!r:.200}"
                )
        pairs = [(self.question, prefix + continuation) for continuation in continuations]
        scorer = self._scoring.scorer
        with self._guard(f"scorer {self._scorer_name!r} score_batch()"):
            scores = scorer.score_batch(pairs)
            if len(scores) != width:
                raise ScorerUnavailableError(
                    f"score_batch returned {len(scores)} scores for {width} pairs"
                )
            return tuple(_checked_confidence(score) for score in scores)

    def _revise(self) -> float:
        """Revise the last ``depth`` events with the newest one; return the newest's value."""
        depth = self.bci.depth
        last = len(self._raw) - 1
        if depth == 0:
            return self._raw[last]
        first = max(0, last - depth)
        values = integrate_paths(self._raw[first:], self._futures[first:], self.bci.alpha, depth)
        for index, value in enumerate(values[:-1], start=first):
            event = self._events[index]
            if value != event.revised:
                self._events[index] = replace(
                    event, revised=value, revisions=(*event.revisions, value)
                )
        return values[-1]

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn a failure inside the block into a propagated, monitor-ending error."""
        try:
            yield
        except GuardrailRuntimeError as exc:
            self._fail(exc)
            raise
        except Exception as exc:
            raise self._fail(self._unavailable(what, exc)) from exc

    def _unavailable(self, what: str, exc: Exception) -> ScorerUnavailableError:
        return ScorerUnavailableError(f"{what} failed: {type(exc).__name__}: {exc}")

    def _fail(self, error: GuardrailRuntimeError) -> GuardrailRuntimeError:
        """End the monitor after ``error``; the session is closed. Returns ``error``."""
        if self._state is not _State.FAILED:
            self._failure = error
            try:
                self._release(_State.FAILED)
            except GuardrailRuntimeError as close_error:
                error.add_note(f"closing the scoring session also failed: {close_error}")
        return error

    def _release(self, state: _State) -> None:
        stream, self._stream = self._stream, _NO_STREAM
        self._state = state
        for pending in self._pending:
            pending.ticket.abandon()
        self._pending.clear()
        with self._guard(f"scorer {self._scorer_name!r} session.close()"):
            stream.close()

    def _state_error(self, call: str) -> MonitorStateError:
        if self._state is _State.FAILED:
            error = MonitorStateError(f"{call} after the monitor failed: {self._failure}")
            error.__cause__ = self._failure
            return error
        after = "finish()" if self._state is _State.FINISHED else "close()"
        return MonitorStateError(f"{call} after {after}: this monitor's answer is over")

    def __repr__(self) -> str:
        return (
            f"ConfidenceMonitor(question={self.question[:40]!r}, state={self._state.value}, "
            f"tokens={self._token_count}, events={len(self._events)})"
        )


def _checked_confidence(value: object) -> float:
    """A scorer's confidence as a float in [0, 1], or :class:`ScorerUnavailableError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ScorerUnavailableError(f"scorer returned a non-number confidence: {value!r}")
    result = float(value)
    if not (math.isfinite(result) and 0.0 <= result <= 1.0):
        raise ScorerUnavailableError(f"scorer returned a confidence outside [0, 1]: {result}")
    return result


def _checked_entropy(value: object) -> float:
    """A scorer's entropy as a finite float >= 0, or :class:`ScorerUnavailableError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ScorerUnavailableError(f"scorer returned a non-number entropy: {value!r}")
    result = float(value)
    if not (math.isfinite(result) and result >= 0.0):
        raise ScorerUnavailableError(f"scorer returned an invalid entropy: {result}")
    return result
