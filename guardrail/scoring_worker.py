"""ScoringWorker: one thread per scorer and process that scores every stream's checkpoints.

Streams never call the scorer themselves: :meth:`ScoringWorker.open` gives each answer a
:class:`~guardrail.scorers.tickets.ScoringStream` whose ``request`` queues a job and returns a
ticket at once. The stream waits for the ticket (blocking checkpoints, each wait bounded by its
deadline) or goes on streaming and lands it later (non-blocking), so a hung scorer can delay an
answer by its deadline at most and never hangs it.

**Micro-batching.** The worker takes the first queued job of every stream at once; when the
scorer can pool streams (:class:`~guardrail.scorers.pool.PoolingScorer`, e.g.
:class:`~guardrail.scorers.finece.FineCEScorer`), their checkpoints are scored in one batched
incremental step. Jobs that queue while a step runs make the next batch; besides, when other
streams are open, the worker waits up to ``window_s`` for their checkpoints before a step. A
stream alone in the process never waits. Other scorers' sessions are scored one by one.

**Slow or hung.** The worker records progress: a step starting or ending, and, for a scorer
with a torch ``model``, every decoder layer that runs (a forward hook). A scorer that showed
progress within a deadline is slow (:meth:`ScoringWorker.progressing`), one that did not is
hung; the monitor keeps waiting for a slow scorer's question and outcome estimates under
``overload: skip_process`` and applies ``on_error`` to a hung one.

**Falling behind.** :meth:`ScoringWorker.behind` is true while ``max_backlog`` or more jobs wait
for the model (closes and abandoned requests do not count), or while a step runs past the
deadline of a checkpoint in it; the monitor then skips process checkpoints (the policy's
``overload``). A ticket nobody waits for any more (its deadline passed) is *abandoned*: if it
has not started, only its text is appended, and a result that comes late is dropped and
counted in :attr:`WorkerStats.late_results`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Protocol, runtime_checkable

from guardrail.errors import ScorerTimeoutError, ScorerUnavailableError
from guardrail.scorers.base import Scorer, ScoringSession, TokenLogprobSession
from guardrail.scorers.pool import PoolingScorer, SessionPool
from guardrail.scorers.tickets import ScoreTicket, truncated_of

__all__ = ["ScoringWorker", "WorkerStats", "WorkerStream", "WorkerTicket"]

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class WorkerStats:
    """What a worker did.

    ``steps`` scoring steps for ``checkpoints`` checkpoints, the largest ``largest_batch``;
    ``skipped`` requests abandoned before they started, ``late_results`` scores that came after
    their deadline and were dropped.
    """

    steps: int = 0
    checkpoints: int = 0
    largest_batch: int = 0
    skipped: int = 0
    late_results: int = 0


class WorkerTicket:
    """A :class:`~guardrail.scorers.tickets.ScoreTicket` answered by the worker thread."""

    __slots__ = (
        "_abandoned",
        "_done",
        "_error",
        "_value",
        "deadline",
        "finished_at",
        "started_at",
        "submitted_at",
        "truncated_tokens",
    )

    def __init__(self, submitted_at: float, deadline_s: float | None) -> None:
        self._done = threading.Event()
        self._value = 0.0
        self._error: BaseException | None = None
        self._abandoned = False
        self.truncated_tokens = 0
        self.submitted_at = submitted_at
        self.deadline = None if deadline_s is None else submitted_at + deadline_s
        self.started_at: float | None = None
        self.finished_at: float | None = None

    def done(self) -> bool:
        """True once answered."""
        return self._done.is_set()

    def started(self) -> bool:
        """True once the worker took it up."""
        return self.started_at is not None

    def wait(self, timeout: float | None) -> bool:
        """Wait for the answer at most ``timeout`` seconds."""
        return self._done.wait(timeout)

    def result(self) -> float:
        """The confidence, or the scorer's error raised."""
        if self._error is not None:
            raise self._error
        return self._value

    @property
    def latency_s(self) -> float:
        """From the request to the answer (queueing included)."""
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return end - self.submitted_at

    @property
    def abandoned(self) -> bool:
        """True once nobody waits for it."""
        return self._abandoned

    def abandon(self) -> None:
        """Nobody waits any more: not scored if not started, a late result is dropped."""
        self._abandoned = True

    def _settle(self, value: float, error: BaseException | None, now: float) -> None:
        self._value = value
        self._error = error
        self.finished_at = now
        self._done.set()


class _Kind(Enum):
    OPEN = "open"
    SCORE = "score"
    ENTROPY = "entropy"
    CLOSE = "close"


@dataclass(slots=True, eq=False)
class _Job:
    kind: _Kind
    stream: WorkerStream
    text: str = ""
    ticket: WorkerTicket | None = None
    pieces: tuple[tuple[str, object], ...] = ()  # (text, logprobs) per token, in order
    entropy: float | None = None


class WorkerStream:
    """One answer's :class:`~guardrail.scorers.tickets.ScoringStream` on a worker.

    ``append`` buffers text in the caller's thread; each request carries the text buffered
    since the previous one, so the score is exactly that of the text at the request.
    """

    __slots__ = ("_buffer", "_closed", "_worker", "error", "key", "question", "session")

    def __init__(self, worker: ScoringWorker, question: str) -> None:
        self._worker = worker
        self.question = question
        self._buffer: list[tuple[str, object]] = []
        self._closed = False
        self.key: int | None = None  # the pool's key (pooling scorers)
        self.session: ScoringSession | None = None  # the scorer's session (other scorers)
        self.error: BaseException | None = None

    def append(self, text: str, logprobs: object = None) -> None:
        """Buffer streamed text and its logprobs (sent with the next request)."""
        if self._closed:
            raise ScorerUnavailableError("this scoring stream is closed")
        self._buffer.append((text, logprobs))

    def request(self, deadline_s: float | None = None) -> ScoreTicket:
        """Queue a score of the text so far; the ticket is answered by the worker thread."""
        return self._job(_Kind.SCORE, deadline_s)

    def entropy(self) -> float | None:
        """The scorer LM's next-token entropy after the text so far (waits for the worker)."""
        ticket = self._job(_Kind.ENTROPY, self._worker.entropy_timeout_s)
        if not ticket.wait(self._worker.entropy_timeout_s):
            ticket.abandon()
            raise ScorerTimeoutError(
                f"no entropy from scorer {self._worker.name!r} within "
                f"{self._worker.entropy_timeout_s:g}s"
            )
        value = ticket.result()
        return None if value < 0 else value

    def close(self) -> None:
        """Release the stream on the worker; idempotent."""
        if not self._closed:
            self._closed = True
            self._buffer.clear()
            self._worker._submit(_Job(_Kind.CLOSE, self))

    def _job(self, kind: _Kind, deadline_s: float | None) -> WorkerTicket:
        if self._closed:
            raise ScorerUnavailableError("this scoring stream is closed")
        pieces = tuple(self._buffer)
        self._buffer.clear()
        text = "".join(piece for piece, _ in pieces)
        ticket = WorkerTicket(time.perf_counter(), deadline_s)
        self._worker._submit(_Job(kind, self, text, ticket, pieces=pieces))
        return ticket


class ScoringWorker:
    """The scoring thread of one scorer (see the module documentation).

    :meth:`for_scorer` returns the process's worker for a scorer (created on first use).
    ``window_s`` is how long a step waits for the checkpoints of other open streams,
    ``max_batch`` the most streams scored in one step (1: no micro-batching; each stream then
    has its own session, scored alone), ``max_backlog``
    the queue depth from which the worker counts as behind. The thread is a daemon started on
    the first job; it ends after ``idle_exit_s`` idle with no stream open (and restarts on the
    next job).
    """

    _instances: ClassVar[weakref.WeakKeyDictionary[object, ScoringWorker]] = (
        weakref.WeakKeyDictionary()
    )
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        scorer: Scorer,
        *,
        window_s: float = 0.002,
        max_batch: int = 16,
        max_backlog: int = 32,
        entropy_timeout_s: float = 30.0,
        idle_exit_s: float = 30.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if max_batch < 1 or max_backlog < 1 or window_s < 0 or entropy_timeout_s <= 0:
            raise ValueError(
                "max_batch and max_backlog must be >= 1, window_s >= 0, entropy_timeout_s > 0"
            )
        self._scorer = scorer
        self.window_s = window_s
        self.max_batch = max_batch
        self.max_backlog = max_backlog
        self.entropy_timeout_s = entropy_timeout_s
        self.idle_exit_s = idle_exit_s
        self._clock = clock
        self._queue: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._live = 0
        self._running_deadline: float | None = None
        self._busy = False
        self._last_progress = clock()
        self._hooked = False
        self._pool: SessionPool | None = None
        self.stats = WorkerStats()

    @classmethod
    def for_scorer(cls, scorer: Scorer) -> ScoringWorker:
        """The process's worker for ``scorer`` (one per scorer object)."""
        with cls._instances_lock:
            worker = cls._instances.get(scorer)
            if worker is None:
                worker = cls(scorer)
                cls._instances[scorer] = worker
            return worker

    # ----------------------------------------------------------------- protocol
    @property
    def name(self) -> str:
        """The scorer's name."""
        return self._scorer.name

    @property
    def scorer(self) -> Scorer:
        """The scorer this worker runs."""
        return self._scorer

    @property
    def queued(self) -> int:
        """Jobs waiting for the worker."""
        with self._cond:
            return len(self._queue)

    @property
    def open_streams(self) -> int:
        """Streams opened and not closed yet."""
        with self._cond:
            return self._live

    def open(self, question: str) -> WorkerStream:
        """A stream for one answer (its session is opened by the worker thread)."""
        stream = WorkerStream(self, question)
        self._submit(_Job(_Kind.OPEN, stream))
        return stream

    def progressing(self, within: float) -> bool:
        """True when a step started or ended, or a model layer ran, in the last ``within`` s."""
        return self._clock() - self._last_progress < within

    def _beat(self) -> None:
        self._last_progress = self._clock()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running (closes included); return whether idle."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def behind(self) -> bool:
        """True while ``max_backlog`` jobs wait for the model or a step runs past a deadline.

        Closing a stream and a request abandoned before it started cost the model nothing (the
        latter only appends its text), so they do not count towards the backlog.
        """
        with self._cond:
            waiting = sum(
                1
                for job in self._queue
                if job.kind is not _Kind.CLOSE
                and not (job.ticket is not None and job.ticket.abandoned)
            )
            if waiting >= self.max_backlog:
                return True
            deadline = self._running_deadline
        return deadline is not None and self._clock() > deadline

    # ------------------------------------------------------------------ thread
    def _submit(self, job: _Job) -> None:
        with self._cond:
            if job.kind is _Kind.OPEN:
                self._live += 1
            elif job.kind is _Kind.CLOSE:
                self._live -= 1
            self._queue.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"guardrail-scorer-{self.name}", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return  # idle with no open stream: the next job starts a new thread
            try:
                self._execute(batch)
            except Exception:  # never let the thread die: each job got its error already
                _logger.exception("guardrail scoring worker step failed")
            finally:
                with self._cond:
                    self._running_deadline = None
                    self._busy = False
                    self._cond.notify_all()

    def _take(self) -> list[_Job] | None:
        """The first queued job of each stream (after the gathering window).

        ``None`` when the worker sat idle for ``idle_exit_s`` with no stream open: the thread
        ends (a worker per scorer must not keep a thread per scorer ever made).
        """
        with self._cond:
            while not self._queue:
                if not self._cond.wait(self.idle_exit_s) and not self._queue and not self._live:
                    self._thread = None
                    return None
            if self.window_s > 0 and self.max_batch > 1:
                end = self._clock() + self.window_s
                while True:
                    waiting = len({id(job.stream) for job in self._queue})
                    remaining = end - self._clock()
                    if waiting >= min(self._live, self.max_batch) or remaining <= 0:
                        break
                    self._cond.wait(remaining)
            batch: list[_Job] = []
            rest: deque[_Job] = deque()
            seen: set[int] = set()
            for job in self._queue:
                if id(job.stream) in seen or len(seen) >= self.max_batch:
                    rest.append(job)
                else:
                    seen.add(id(job.stream))
                    batch.append(job)
            self._queue = rest
            self._busy = True
            self._last_progress = self._clock()
            deadlines = [
                job.ticket.deadline
                for job in batch
                if job.ticket is not None and job.ticket.deadline is not None
            ]
            self._running_deadline = min(deadlines) if deadlines else None
            return batch

    def _execute(self, batch: list[_Job]) -> None:
        scores: list[_Job] = []
        for job in batch:
            if job.kind is _Kind.SCORE:
                scores.append(job)
            else:
                self._single(job)
        if scores:
            self._score(scores)

    def _single(self, job: _Job) -> None:
        stream = job.stream
        try:
            match job.kind:
                case _Kind.OPEN:
                    self._open(stream)
                case _Kind.CLOSE:
                    self._close(stream)
                case _Kind.ENTROPY:
                    self._start(job)
                    self._append(stream, job)
                    value = self._entropy(stream)
                    self._answer(job, -1.0 if value is None else value, None)
                case _Kind.SCORE:
                    raise AssertionError("score jobs are batched")
        except Exception as exc:
            if job.kind is _Kind.OPEN:
                stream.error = exc
            if job.ticket is not None:
                self._answer(job, 0.0, exc)

    def _score(self, jobs: list[_Job]) -> None:
        live: list[_Job] = []
        for job in jobs:
            stream = job.stream
            try:
                self._append(stream, job)
            except Exception as exc:
                self._answer(job, 0.0, exc)
                continue
            if job.ticket is not None and job.ticket.abandoned:
                self.stats.skipped += 1
                self._answer(job, 0.0, ScorerTimeoutError("abandoned before it was scored"))
                continue
            self._start(job)
            live.append(job)
        if not live:
            return
        self.stats.steps += 1
        self.stats.checkpoints += len(live)
        self.stats.largest_batch = max(self.stats.largest_batch, len(live))
        pool = self._pool
        if pool is not None:
            try:
                values = pool.score([_key(job.stream) for job in live])
            except Exception as exc:
                for job in live:
                    self._answer(job, 0.0, exc)
                return
            for job, value in zip(live, values, strict=True):
                self._answer(job, value, None)
            return
        for job in live:
            try:
                value = _session(job.stream).score()
            except Exception as exc:
                self._answer(job, 0.0, exc)
                continue
            self._answer(job, value, None)

    # --------------------------------------------------------------- helpers
    def _open(self, stream: WorkerStream) -> None:
        scorer = self._scorer
        if not self._hooked:
            self._hooked = True
            _install_heartbeat(scorer, weakref.WeakMethod(self._beat))
        if self._pool is None and self.max_batch > 1 and isinstance(scorer, PoolingScorer):
            self._pool = scorer.open_pool()
        if self._pool is not None:
            stream.key = self._pool.add(stream.question)
        else:
            stream.session = scorer.open_session(stream.question)

    def _close(self, stream: WorkerStream) -> None:
        if stream.key is not None and self._pool is not None:
            key, stream.key = stream.key, None
            self._pool.remove(key)
        elif stream.session is not None:
            session, stream.session = stream.session, None
            session.close()

    def _append(self, stream: WorkerStream, job: _Job) -> None:
        if stream.error is not None:
            raise ScorerUnavailableError(
                f"scorer {self.name!r} could not open a session: "
                f"{type(stream.error).__name__}: {stream.error}"
            ) from stream.error
        text = job.text
        if not text:
            return
        if self._pool is not None:
            self._pool.append(_key(stream), text)
            return
        session = _session(stream)
        if isinstance(session, TokenLogprobSession):
            for piece, logprobs in job.pieces:
                session.append_token(piece, logprobs)
        else:
            session.append(text)

    def _truncated(self, stream: WorkerStream) -> int:
        if self._pool is not None and stream.key is not None:
            return self._pool.truncated(stream.key)
        return truncated_of(stream.session) if stream.session is not None else 0

    def _entropy(self, stream: WorkerStream) -> float | None:
        if self._pool is not None:
            return self._pool.entropy(_key(stream))
        return _session(stream).entropy()

    def _start(self, job: _Job) -> None:
        if job.ticket is not None:
            job.ticket.started_at = self._clock()

    def _answer(self, job: _Job, value: float, error: BaseException | None) -> None:
        ticket = job.ticket
        if ticket is None:
            return
        was_abandoned = ticket.abandoned and ticket.started()
        self._last_progress = self._clock()
        if error is None and job.kind is _Kind.SCORE:
            ticket.truncated_tokens = self._truncated(job.stream)
        ticket._settle(value, error, self._clock())
        if was_abandoned:
            self.stats.late_results += 1
            _logger.info(
                "guardrail: a late %s result of scorer %r was discarded (%.3fs after the request)",
                job.kind.value,
                self.name,
                ticket.latency_s,
            )


@runtime_checkable
class _TorchBacked(Protocol):
    """A scorer that runs a torch model (its decoder layers report progress)."""

    model: Any


def _install_heartbeat(scorer: Scorer, beat: weakref.WeakMethod[Callable[[], None]]) -> None:
    """Call ``beat`` after every decoder layer of the scorer's model runs (slow, not hung)."""
    if not isinstance(scorer, _TorchBacked):
        return
    modules = getattr(scorer.model, "modules", None)
    if not callable(modules):
        return

    def hook(*_: object) -> None:
        method = beat()
        if method is not None:
            method()

    for module in modules():
        if type(module).__name__.endswith("DecoderLayer"):
            module.register_forward_hook(hook)


def _key(stream: WorkerStream) -> int:
    if stream.key is None:
        raise ScorerUnavailableError("the scoring stream has no open session")
    return stream.key


def _session(stream: WorkerStream) -> ScoringSession:
    if stream.session is None:
        raise ScorerUnavailableError("the scoring stream has no open session")
    return stream.session
