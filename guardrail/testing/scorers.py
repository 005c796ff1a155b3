"""Deterministic scorer test doubles."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from guardrail.scorers.card import ScorerCard

__all__ = ["ScoreCall", "ScriptedScorer", "ScriptedSession"]

CallKind = Literal["score", "score_batch", "session.score", "session.entropy"]


@dataclass(frozen=True, slots=True)
class ScoreCall:
    """One request a :class:`ScriptedScorer` answered (or failed): what, and for which text."""

    kind: CallKind
    question: str
    answer: str


class ScriptedScorer:
    """A :class:`guardrail.scorers.Scorer` that answers from a script.

    ``script`` is either a sequence of confidences handed out in order, one per confidence
    request (``score``, each pair of ``score_batch``, ``session.score``), or a callable
    ``(question, answer) -> float``. Running out of a scripted sequence raises
    :class:`LookupError`. Values are returned as given, unchecked, so invalid outputs can be
    tested too.

    ``entropy`` is an optional ``(question, answer_so_far) -> float | None`` for
    ``session.entropy()`` (``None`` without it). ``fail_on=n`` makes the ``n``-th confidence
    request (1-based) raise ``error`` (default :class:`RuntimeError`) instead of answering; the
    script does not advance for it. Every request is recorded in ``calls`` (entropy requests
    too, without counting towards ``fail_on``) and every opened session in ``sessions``.

    A slow scorer: ``delay_s`` sleeps before each confidence, and ``hold`` (a
    :class:`threading.Event`) makes each confidence wait until the event is set, so a test
    decides when a score lands (a hold never set is a scorer that never returns; set it at the
    end of the test to let the scoring thread go). ``answered`` counts confidences handed out.
    ``card`` is the :class:`~guardrail.scorers.card.ScorerCard` it carries (``None``: none).
    """

    def __init__(
        self,
        script: Sequence[float] | Callable[[str, str], float],
        *,
        entropy: Callable[[str, str], float | None] | None = None,
        fail_on: int | None = None,
        error: Exception | None = None,
        name: str = "scripted",
        delay_s: float = 0.0,
        hold: threading.Event | None = None,
        card: ScorerCard | None = None,
    ) -> None:
        if fail_on is not None and fail_on < 1:
            raise ValueError(f"fail_on counts from 1, got {fail_on}")
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        self.delay_s = delay_s
        self.hold = hold
        self.answered = 0
        self._script = script if callable(script) else list(script)
        self._position = 0
        self._requests = 0
        self._entropy = entropy
        self._fail_on = fail_on
        self._error = error
        self._name = name
        self.card = card
        self.calls: list[ScoreCall] = []
        self.sessions: list[ScriptedSession] = []

    @property
    def name(self) -> str:
        """The name given at construction (``"scripted"``)."""
        return self._name

    def score(self, question: str, answer: str = "") -> float:
        """Next scripted confidence for ``question`` + ``answer``."""
        return self._answer("score", question, answer)

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """One scripted confidence per pair, in order."""
        return [self._answer("score_batch", question, answer) for question, answer in pairs]

    def open_session(self, question: str) -> ScriptedSession:
        """A session that scores from this scorer's script."""
        session = ScriptedSession(self, question)
        self.sessions.append(session)
        return session

    def _answer(self, kind: CallKind, question: str, answer: str) -> float:
        self.calls.append(ScoreCall(kind, question, answer))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.hold is not None:
            self.hold.wait()
        self._requests += 1
        if self._requests == self._fail_on:
            if self._error is not None:
                raise self._error
            raise RuntimeError(f"scripted failure on confidence request {self._requests}")
        script = self._script
        if callable(script):
            self.answered += 1
            return script(question, answer)
        if self._position >= len(script):
            raise LookupError(f"ScriptedScorer ran out of its {len(script)} scripted confidences")
        value = script[self._position]
        self._position += 1
        self.answered += 1
        return value

    def _session_entropy(self, question: str, answer: str) -> float | None:
        self.calls.append(ScoreCall("session.entropy", question, answer))
        return None if self._entropy is None else self._entropy(question, answer)


class ScriptedSession:
    """A :class:`guardrail.scorers.ScoringSession` of a :class:`ScriptedScorer`.

    ``text`` is what was appended; ``appends`` counts the appends; ``closed`` tells whether
    ``close`` ran. Using a closed session raises :class:`RuntimeError`.
    """

    def __init__(self, scorer: ScriptedScorer, question: str) -> None:
        self.question = question
        self.appends = 0
        self.closed = False
        self._scorer = scorer
        self._parts: list[str] = []

    @property
    def text(self) -> str:
        """The answer text appended so far."""
        return "".join(self._parts)

    def append(self, text: str) -> None:
        """Record streamed text."""
        self._check_open()
        self._parts.append(text)
        self.appends += 1

    def score(self) -> float:
        """Next scripted confidence for the question plus the text so far."""
        self._check_open()
        return self._scorer._answer("session.score", self.question, self.text)

    def entropy(self) -> float | None:
        """The ``entropy`` callable's value for the text so far (``None`` without one)."""
        self._check_open()
        return self._scorer._session_entropy(self.question, self.text)

    def close(self) -> None:
        """Mark the session closed."""
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("ScriptedSession used after close()")
