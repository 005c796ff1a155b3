"""The scorer protocol every confidence backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "ModelBoundScorer",
    "Scorer",
    "ScoringSession",
    "StageCalibratedScorer",
    "TokenLogprobSession",
    "TruncatingSession",
]


@runtime_checkable
class ScoringSession(Protocol):
    """Incremental scoring of one streamed answer to one question.

    ``append`` adds answer text as it streams (cheap; no model call is required),
    ``score`` returns the confidence for the question plus all text appended so far, and
    ``entropy`` the scorer LM's next-token entropy (nats) after that text, or ``None`` when the
    backend has no language model to ask.
    """

    def append(self, text: str) -> None:
        """Add streamed answer text."""
        ...

    def score(self) -> float:
        """Confidence in [0, 1] that the final answer will be correct, given the text so far."""
        ...

    def entropy(self) -> float | None:
        """Next-token entropy of the scorer's LM after the current text, in nats."""
        ...

    def close(self) -> None:
        """Release cached state."""
        ...


@runtime_checkable
class TruncatingSession(Protocol):
    """A session that bounds its input and says how many tokens its last estimate left out."""

    @property
    def truncated_tokens(self) -> int:
        """Question and answer tokens cut from the last estimate's input (0: none)."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """Estimates ``p(final answer correct | question, answer so far)``."""

    @property
    def name(self) -> str:
        """A short identifier used in events and audit records."""
        ...

    def score(self, question: str, answer: str = "") -> float:
        """Confidence in [0, 1] for the question plus the (partial or complete) answer."""
        ...

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score many ``(question, answer)`` pairs; same results as one-by-one."""
        ...

    def open_session(self, question: str) -> ScoringSession:
        """Start an incremental session for one streamed answer."""
        ...


@runtime_checkable
class TokenLogprobSession(Protocol):
    """A session that reads the generator's logprobs of each streamed token.

    The monitor calls ``append_token(text, logprobs)`` instead of ``append(text)`` on such a
    session; ``logprobs`` is the token's OpenAI-shaped logprobs (``None`` when none came).
    """

    def append_token(self, text: str, logprobs: object) -> None:
        """Add streamed answer text with its logprobs."""
        ...


@runtime_checkable
class StageCalibratedScorer(Protocol):
    """A scorer with a calibration map per stage (question, process, outcome).

    Its numbers carry one pooled map; the caller that knows an estimate's stage asks for the
    stage's own (:class:`guardrail.calibration.StageCalibration`).
    """

    def for_stage(self, confidence: float, stage: str) -> float:
        """``confidence`` as this scorer's map for ``stage`` gives it."""
        ...


@runtime_checkable
class ModelBoundScorer(Protocol):
    """A scorer whose estimates depend on the guarded model (e.g. a per-model calibration)."""

    def for_model(self, model: str) -> Scorer:
        """The scorer to use for answers of ``model``."""
        ...
