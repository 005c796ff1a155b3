"""Checkpoint events: what the monitor emits and what policies decide on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["CheckpointEvent", "Stage"]


class Stage(StrEnum):
    """Where in the generation a confidence was estimated (FINECE.md, three settings).

    ``TOOL_CALL`` is a model turn's call of a tool (an agent's action), judged before it runs.
    """

    QUESTION = "question"
    PROCESS = "process"
    OUTCOME = "outcome"
    TOOL_CALL = "tool_call"


@dataclass(frozen=True, slots=True)
class CheckpointEvent:
    """One confidence estimate taken during (or before, or after) an answer.

    ``index`` is the position of this checkpoint in the answer's sequence (the question-level
    estimate is 0). ``token_index`` is the number of answer tokens seen when it was scored and
    ``char_start:char_end`` the span of answer text that arrived since the previous checkpoint.
    ``confidence`` is the scorer's raw estimate; ``revised`` the Backward-Confidence-Integration
    revision as currently known (equal to ``confidence`` until later checkpoints revise it).
    ``tokens_passed`` is how many answer tokens streamed after the checkpoint while it was
    being scored (0 when the stream waited for the score: blocking checkpoints).
    ``scorer_mismatch`` is ``True`` when the guarded model is not among the generators the
    scorer was trained or calibrated on (:mod:`guardrail.scorers.card`), ``None`` when unknown.
    ``truncated_tokens`` counts the question and answer tokens the scorer left out of this
    estimate to stay within its ``max_input_tokens`` (0: it read everything).
    """

    index: int
    stage: Stage
    reason: str
    token_index: int
    char_start: int
    char_end: int
    confidence: float
    revised: float
    latency_s: float = 0.0
    entropy: float | None = None
    revisions: tuple[float, ...] = field(default_factory=tuple)
    tokens_passed: int = 0
    scorer_mismatch: bool | None = None
    truncated_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (``stage`` as its string value)."""
        data = asdict(self)
        data["stage"] = self.stage.value
        data["revisions"] = list(self.revisions)
        return data
