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
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from enum import Enum

from guardrail.bci import integrate_paths
from guardrail.entropy import logprobs_entropy
from guardrail.errors import (
    ConfigIssue,
    GuardrailConfigError,
    GuardrailRuntimeError,
    ScorerUnavailableError,
)
from guardrail.events import CheckpointEvent, Stage
from guardrail.scorers.base import Scorer, ScoringSession, TruncatingSession
from guardrail.triggers.base import AnswerText
from guardrail.triggers.config import BCISettings, CheckpointSettings
from guardrail.triggers.registry import build_trigger

__all__ = [
    "DEFAULT_BCI",
    "DEFAULT_CHECKPOINTS",
    "ConfidenceMonitor",
    "FutureSampler",
    "MonitorStateError",
]

FutureSampler = Callable[[str, str, int], Sequence[str]]
"""``(question, answer_prefix, n) -> n`` sampled continuations of the prefix, each running up
to where the next checkpoint would be (e.g. the end of the next line)."""

DEFAULT_CHECKPOINTS = CheckpointSettings()
DEFAULT_BCI = BCISettings()


class MonitorStateError(GuardrailRuntimeError):
    """The monitor was used out of order (after ``finish``, ``close`` or a scorer failure)."""


class _State(Enum):
    NEW = "new"
    RUNNING = "running"
    FINISHED = "finished"
    CLOSED = "closed"
    FAILED = "failed"


class _NoSession:
    """Stands in for the scoring session before ``start`` and after the session is released."""

    def append(self, text: str) -> None:
        raise MonitorStateError("no scoring session is open")

    def score(self) -> float:
        raise MonitorStateError("no scoring session is open")

    def entropy(self) -> float | None:
        raise MonitorStateError("no scoring session is open")

    def close(self) -> None:
        return None


_NO_SESSION: ScoringSession = _NoSession()


class ConfidenceMonitor:
    """Confidence checkpoints and their BCI revisions for one answer to ``question``.

    * ``start()`` opens the scoring session (``scorer.open_session(question)``) and, if
      ``settings.score_question``, scores the question alone (event 0, stage ``QUESTION``). The
      first ``feed`` calls it implicitly; call it yourself to receive that event.
    * ``feed(token_text, logprobs)`` appends one token to the session and runs the triggers;
      when they fire it scores the text so far and returns the ``PROCESS`` event, else ``None``.
      An empty ``token_text`` is ignored. ``logprobs`` are this token's OpenAI-shaped logprobs
      (:mod:`guardrail.entropy`), used by entropy triggers and recorded on events.
    * ``finish()`` scores the whole answer (stage ``OUTCOME``; ``None`` when
      ``settings.score_outcome`` is off) and closes the session. ``close()`` releases the
      session without scoring (for an aborted generation). Afterwards ``feed``/``finish`` raise
      :class:`MonitorStateError`.

    ``events[i].index == i``; ``latency_s`` is the time ``clock`` measured around
    ``session.score()``. Entropy, BCI and errors: see the module documentation.
    """

    __slots__ = (
        "_answer",
        "_char_mark",
        "_clock",
        "_entropy_source",
        "_events",
        "_failure",
        "_future_sampler",
        "_futures",
        "_logprobs_seen",
        "_raw",
        "_scorer",
        "_session",
        "_state",
        "_token_count",
        "_trigger",
        "bci",
        "question",
        "settings",
    )

    def __init__(
        self,
        scorer: Scorer,
        question: str,
        settings: CheckpointSettings = DEFAULT_CHECKPOINTS,
        bci: BCISettings = DEFAULT_BCI,
        future_sampler: FutureSampler | None = None,
        clock: Callable[[], float] = time.perf_counter,
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
        self.question = question
        self.settings = settings
        self.bci = bci
        self._scorer = scorer
        self._future_sampler = future_sampler
        self._clock = clock
        self._trigger = build_trigger(settings)
        self._entropy_source = self._trigger.entropy_source
        self._answer = AnswerText()
        self._session = _NO_SESSION
        self._state = _State.NEW
        self._failure: GuardrailRuntimeError | None = None
        self._token_count = 0
        self._char_mark = 0
        self._logprobs_seen = False
        self._events: list[CheckpointEvent] = []
        self._raw: list[float] = []
        self._futures: list[tuple[float, ...]] = []

    # ------------------------------------------------------------------------- state
    @property
    def events(self) -> tuple[CheckpointEvent, ...]:
        """Every event so far, each with its latest BCI revision."""
        return tuple(self._events)

    @property
    def revision_history(self) -> tuple[tuple[float, ...], ...]:
        """Per event index, the values its ``revised`` confidence has taken, oldest first."""
        return tuple(event.revisions for event in self._events)

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
        with self._guard(f"scorer {self._scorer.name!r} open_session()"):
            self._session = self._scorer.open_session(self.question)
        self._state = _State.RUNNING
        if not self.settings.score_question:
            return None
        return self._checkpoint(Stage.QUESTION, "question", None, sample=True)

    def feed(self, token_text: str, logprobs: object = None) -> CheckpointEvent | None:
        """Add one streamed token; return the checkpoint event it triggered, if any."""
        if self._state is not _State.RUNNING:
            if self._state is not _State.NEW:
                raise self._state_error("feed()")
            self.start()
        if not token_text:
            return None
        index = self._token_count
        entropy = None if self._entropy_source is None else self._token_entropy(logprobs)
        self._answer.append(token_text)
        self._token_count = index + 1
        try:
            self._session.append(token_text)
        except GuardrailRuntimeError as exc:
            self._fail(exc)
            raise
        except Exception as exc:
            what = f"scorer {self._scorer.name!r} session.append()"
            raise self._fail(self._unavailable(what, exc)) from exc
        reason = self._trigger.observe(token_text, index, self._answer, entropy)
        if reason is None:
            return None
        if entropy is None and logprobs is not None:
            entropy = logprobs_entropy(logprobs)
        return self._checkpoint(Stage.PROCESS, reason, entropy, sample=True)

    def finish(self) -> CheckpointEvent | None:
        """Score the complete answer (``OUTCOME``) and close the session."""
        if self._state is not _State.RUNNING:
            if self._state is not _State.NEW:
                raise self._state_error("finish()")
            self.start()
        event = None
        if self.settings.score_outcome:
            event = self._checkpoint(Stage.OUTCOME, "outcome", None, sample=False)
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
        with self._guard(f"scorer {self._scorer.name!r} session.entropy()"):
            value = self._session.entropy()
            return None if value is None else _checked_entropy(value)

    def _checkpoint(
        self, stage: Stage, reason: str, entropy: float | None, *, sample: bool
    ) -> CheckpointEvent:
        with self._guard(f"scorer {self._scorer.name!r} session.score()"):
            started = self._clock()
            confidence = self._session.score()
            latency = self._clock() - started
            confidence = _checked_confidence(confidence)
            session = self._session
            truncated = session.truncated_tokens if isinstance(session, TruncatingSession) else 0
        bci = self.bci
        futures: tuple[float, ...] = ()
        if sample and bci.width > 0 and bci.depth > 0:
            futures = self._sample_futures(self._answer.text, bci.width)
        self._raw.append(confidence)
        self._futures.append(futures)
        revised = self._revise()
        char_end = len(self._answer)
        event = CheckpointEvent(
            index=len(self._events),
            stage=stage,
            reason=reason,
            token_index=self._token_count,
            char_start=self._char_mark,
            char_end=char_end,
            confidence=confidence,
            revised=revised,
            latency_s=latency,
            entropy=entropy,
            revisions=(revised,),
            truncated_tokens=int(truncated),
        )
        self._events.append(event)
        self._char_mark = char_end
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
        with self._guard(f"scorer {self._scorer.name!r} score_batch()"):
            scores = self._scorer.score_batch(pairs)
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
        session, self._session = self._session, _NO_SESSION
        self._state = state
        with self._guard(f"scorer {self._scorer.name!r} session.close()"):
            session.close()

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
