"""Checkpoint scoring as requests: a stream asks for a score and gets a ticket back.

:class:`ConfidenceMonitor <guardrail.monitor.ConfidenceMonitor>` scores through a
:class:`CheckpointScoring`: :meth:`CheckpointScoring.open` gives one :class:`ScoringStream`
per answer; ``append`` buffers streamed text, ``request`` asks for the confidence of the text
so far and returns a :class:`ScoreTicket` that is answered now (:class:`DirectScoring`, in the
caller's thread) or later (:class:`guardrail.scoring_worker.ScoringWorker`, in one scorer
thread per process that batches the checkpoints of concurrent streams).

A ticket is answered once, with a confidence or an error. ``abandon`` tells the scorer that
nobody waits for it any more (its deadline passed): a request that has not started is not
scored (its text is still appended, so later scores stay right), and a late result is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from guardrail.scorers.base import Scorer, ScoringSession, TokenLogprobSession, TruncatingSession

__all__ = [
    "BudgetedSession",
    "CheckpointScoring",
    "DirectScoring",
    "DoneTicket",
    "ScoreTicket",
    "ScoringStream",
    "truncated_of",
]


@runtime_checkable
class ScoreTicket(Protocol):
    """The answer to one score request, now or later."""

    def done(self) -> bool:
        """True once the confidence (or the error) is in."""
        ...

    def started(self) -> bool:
        """True once the scorer began working on the request."""
        ...

    def wait(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds (``None``: for ever); return :meth:`done`."""
        ...

    def result(self) -> float:
        """The confidence; raises the scorer's error. Only after :meth:`done`."""
        ...

    @property
    def latency_s(self) -> float:
        """Seconds from the request to its answer (queueing included)."""
        ...

    @property
    def truncated_tokens(self) -> int:
        """Tokens the score left out to stay within the scorer's ``max_input_tokens``."""
        ...

    def abandon(self) -> None:
        """Nobody waits any more: skip the request if not started, drop a late result."""
        ...


@runtime_checkable
class BudgetedSession(Protocol):
    """A session whose score can be held to a budget (a remote one: the call is cut short)."""

    def score_within(self, budget_s: float | None) -> float:
        """The score, given up (``ScorerTimeoutError``) ``budget_s`` seconds from now."""
        ...


@runtime_checkable
class ScoringStream(Protocol):
    """One answer's scoring: buffered text, score requests in order, entropy, close."""

    def append(self, text: str, logprobs: object = None) -> None:
        """Add streamed answer text (no model call), with the token's logprobs if any.

        The logprobs reach sessions that read them (``TokenLogprobSession``, e.g. a
        ``logprob:`` scorer's); other sessions get the text alone.
        """
        ...

    def request(self, deadline_s: float | None = None) -> ScoreTicket:
        """Ask for the confidence of the question plus all text appended so far."""
        ...

    def entropy(self) -> float | None:
        """The scorer LM's next-token entropy after the text so far (waits for it)."""
        ...

    def close(self) -> None:
        """Release the stream's scoring state; pending requests are abandoned."""
        ...


@runtime_checkable
class CheckpointScoring(Protocol):
    """Where the checkpoints of many answers get scored."""

    @property
    def name(self) -> str:
        """The scorer's name."""
        ...

    @property
    def scorer(self) -> Scorer:
        """The scorer behind it (BCI future paths are scored on it directly)."""
        ...

    def open(self, question: str) -> ScoringStream:
        """A stream for one answer to ``question``."""
        ...

    def behind(self) -> bool:
        """True when the scorer is falling behind (deep queue, or a request past its deadline)."""
        ...

    def progressing(self, within: float) -> bool:
        """True when the scorer showed progress in the last ``within`` seconds (slow, not hung)."""
        ...


class DoneTicket:
    """A ticket answered at once (a value or an error)."""

    __slots__ = ("_error", "_latency", "_truncated", "_value")

    def __init__(
        self,
        value: float = 0.0,
        *,
        error: BaseException | None = None,
        latency_s: float = 0.0,
        truncated_tokens: int = 0,
    ) -> None:
        self._value = value
        self._error = error
        self._latency = latency_s
        self._truncated = truncated_tokens

    def done(self) -> bool:
        """Always true."""
        return True

    def started(self) -> bool:
        """Always true."""
        return True

    def wait(self, timeout: float | None) -> bool:
        """Returns at once."""
        return True

    def result(self) -> float:
        """The value, or raises the error."""
        if self._error is not None:
            raise self._error
        return self._value

    @property
    def latency_s(self) -> float:
        """How long the synchronous score took."""
        return self._latency

    @property
    def truncated_tokens(self) -> int:
        """Tokens the score left out (:class:`~guardrail.scorers.base.TruncatingSession`)."""
        return self._truncated

    def abandon(self) -> None:
        """Nothing to cancel."""
        return


def truncated_of(session: ScoringSession) -> int:
    """The tokens ``session``'s last score left out (0 for sessions that never truncate)."""
    return int(session.truncated_tokens) if isinstance(session, TruncatingSession) else 0


class _DirectStream:
    """A scoring session called in the caller's thread."""

    __slots__ = ("_budgeted", "_clock", "_session", "_token_session")

    def __init__(self, session: ScoringSession, clock: Callable[[], float]) -> None:
        self._session = session
        self._token_session = session if isinstance(session, TokenLogprobSession) else None
        self._budgeted = session if isinstance(session, BudgetedSession) else None
        self._clock = clock

    def append(self, text: str, logprobs: object = None) -> None:
        if self._token_session is not None:
            self._token_session.append_token(text, logprobs)
        else:
            self._session.append(text)

    def request(self, deadline_s: float | None = None) -> ScoreTicket:
        started = self._clock()
        try:
            if self._budgeted is not None:
                value = self._budgeted.score_within(deadline_s)
            else:
                value = self._session.score()
        except Exception as exc:
            return DoneTicket(error=exc, latency_s=self._clock() - started)
        return DoneTicket(
            value, latency_s=self._clock() - started, truncated_tokens=truncated_of(self._session)
        )

    def entropy(self) -> float | None:
        return self._session.entropy()

    def close(self) -> None:
        self._session.close()


class DirectScoring:
    """Scores each checkpoint in the calling thread, as soon as it is requested.

    Nothing runs beside the stream, and a slow score is cut short only by a session that
    takes a budget (:class:`BudgetedSession`, a remote scorer's: the request's deadline
    bounds the HTTP call); otherwise a deadline is only checked once the score is in. The
    runtime uses it for remote scorers and :class:`~guardrail.scoring_worker.ScoringWorker`
    for the others; it is also the plain :class:`~guardrail.monitor.ConfidenceMonitor`'s.
    """

    def __init__(self, scorer: Scorer, clock: Callable[[], float] = time.perf_counter) -> None:
        self._scorer = scorer
        self.clock = clock

    @property
    def scorer(self) -> Scorer:
        """The scorer."""
        return self._scorer

    @property
    def name(self) -> str:
        """The scorer's name."""
        return self._scorer.name

    def open(self, question: str) -> ScoringStream:
        """Open a session of the scorer (in this thread)."""
        return _DirectStream(self._scorer.open_session(question), self.clock)

    def behind(self) -> bool:
        """Never: every request is answered before the stream goes on."""
        return False

    def progressing(self, within: float) -> bool:
        """Always: a score that came back late came from a slow scorer, not a hung one."""
        return True
