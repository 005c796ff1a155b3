"""Validated settings for checkpoint triggers and Backward Confidence Integration.

These pydantic models are shared by the policy schema (``checkpoints:`` and ``bci:`` sections)
and by :func:`guardrail.triggers.build_trigger`, so a policy file and Python code configure
checkpoints the same way. Every model forbids unknown keys.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "BCISettings",
    "CheckpointSettings",
    "EntropyTriggerSpec",
    "ParagraphTriggerSpec",
    "PeriodicTriggerSpec",
    "TriggerSpec",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ParagraphTriggerSpec(_Spec):
    """Checkpoint at the end of each line/paragraph that has at least ``min_chars`` of text."""

    type: Literal["paragraph"] = "paragraph"
    min_chars: int = Field(default=1, ge=1)


class PeriodicTriggerSpec(_Spec):
    """Checkpoint every ``every`` answer tokens (the paper uses 30 or 50)."""

    type: Literal["periodic"] = "periodic"
    every: int = Field(default=32, ge=1)


class EntropyTriggerSpec(_Spec):
    """Checkpoint when the generator's next-token entropy (nats) exceeds ``threshold``.

    ``source`` picks where entropy comes from: the stream's top-logprobs, the scorer's own LM
    over the streamed text, or ``auto`` (logprobs when the stream carries them, else the scorer).
    """

    type: Literal["entropy"] = "entropy"
    threshold: float = Field(gt=0.0)
    source: Literal["auto", "logprobs", "scorer"] = "auto"

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value


TriggerSpec = Annotated[
    ParagraphTriggerSpec | PeriodicTriggerSpec | EntropyTriggerSpec,
    Field(discriminator="type"),
]


def _paragraph_only() -> list[ParagraphTriggerSpec | PeriodicTriggerSpec | EntropyTriggerSpec]:
    return [ParagraphTriggerSpec()]


class CheckpointSettings(_Spec):
    """Where confidence is estimated while an answer streams.

    ``strategies`` are combined with ``combine`` (``any``: a checkpoint when one fires; ``all``:
    when every one has fired since the last checkpoint). ``min_gap`` is the minimum number of
    answer tokens between two process-level checkpoints and ``max_per_answer`` caps them.
    ``blocking`` makes the stream wait for each checkpoint's score; ``false`` scores beside the
    stream (tokens keep flowing, the decision applies when the score lands, a few tokens later).
    """

    strategies: list[TriggerSpec] = Field(default_factory=_paragraph_only, min_length=1)
    combine: Literal["any", "all"] = "any"
    min_gap: int = Field(default=8, ge=0)
    max_per_answer: int = Field(default=16, ge=1)
    score_question: bool = True
    score_outcome: bool = True
    blocking: bool = True


class BCISettings(_Spec):
    """Backward Confidence Integration (FINECE.md). ``depth == width == 0`` is the identity.

    ``alpha`` weighs an estimate against its future; ``depth`` is how many later checkpoints are
    folded in recursively; ``width`` how many sampled future paths are averaged (needs a
    generator callable; the observed stream itself is always one path).
    """

    alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    depth: int = Field(default=0, ge=0, le=16)
    width: int = Field(default=0, ge=0, le=16)

    @field_validator("alpha")
    @classmethod
    def _alpha_finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("alpha must be a finite number")
        return value
