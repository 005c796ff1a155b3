"""Periodic trigger: a checkpoint every N answer tokens (FINECE.md; the paper uses 30 or 50)."""

from __future__ import annotations

from typing import Self

from guardrail.errors import GuardrailConfigError
from guardrail.triggers.base import AnswerText, SpecTrigger, expect_spec
from guardrail.triggers.config import PeriodicTriggerSpec, TriggerSpec

__all__ = ["PeriodicTrigger"]


class PeriodicTrigger(SpecTrigger):
    """Fire after every ``every``-th token of the answer (tokens ``every``, ``2*every``, ...).

    The grid is fixed on the answer's token positions (0-based ``index + 1`` divisible by
    ``every``), not restarted by checkpoints that other triggers take.
    """

    __slots__ = ("every",)

    type = "periodic"

    def __init__(self, every: int = 32) -> None:
        if every < 1:
            raise GuardrailConfigError(f"periodic every must be >= 1, got {every}")
        self.every = every

    @classmethod
    def from_spec(cls, spec: TriggerSpec) -> Self:
        """Build from a :class:`PeriodicTriggerSpec`."""
        return cls(every=expect_spec(spec, PeriodicTriggerSpec).every)

    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        """Return ``"periodic"`` after tokens ``every``, ``2*every``, ..."""
        return self.type if (index + 1) % self.every == 0 else None

    def reset(self) -> None:
        """Nothing to forget: the trigger is stateless."""

    def __repr__(self) -> str:
        return f"PeriodicTrigger(every={self.every})"
