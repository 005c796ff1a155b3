"""Entropy trigger: a checkpoint where the generator is unsure of its next token (FINECE.md)."""

from __future__ import annotations

import math
from typing import Self

from guardrail.errors import GuardrailConfigError
from guardrail.triggers.base import AnswerText, EntropySource, SpecTrigger, expect_spec
from guardrail.triggers.config import EntropyTriggerSpec, TriggerSpec

__all__ = ["EntropyTrigger"]


class EntropyTrigger(SpecTrigger):
    """Fire on a token whose next-token entropy (nats) is strictly above ``threshold``.

    The entropy is what the caller passes to :meth:`observe`; ``source`` tells the caller where
    to get it (see :class:`guardrail.monitor.ConfidenceMonitor`). A token with unknown entropy
    (``None``) never fires, so with ``source="logprobs"`` and a stream without logprobs this
    trigger never fires.
    """

    __slots__ = ("entropy_source", "threshold")

    type = "entropy"

    def __init__(self, threshold: float, source: EntropySource = "auto") -> None:
        if not (math.isfinite(threshold) and threshold > 0.0):
            raise GuardrailConfigError(
                f"entropy threshold must be a finite number > 0, got {threshold}"
            )
        self.threshold = threshold
        self.entropy_source: EntropySource | None = source

    @classmethod
    def from_spec(cls, spec: TriggerSpec) -> Self:
        """Build from an :class:`EntropyTriggerSpec`."""
        entropy_spec = expect_spec(spec, EntropyTriggerSpec)
        return cls(threshold=entropy_spec.threshold, source=entropy_spec.source)

    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        """Return ``"entropy"`` when ``entropy`` exceeds the threshold."""
        if entropy is not None and entropy > self.threshold:
            return self.type
        return None

    def reset(self) -> None:
        """Nothing to forget: the trigger is stateless."""

    def __repr__(self) -> str:
        return f"EntropyTrigger(threshold={self.threshold}, source={self.entropy_source!r})"
