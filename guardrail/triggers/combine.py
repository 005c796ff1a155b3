"""Combine triggers with ``any``/``all`` and gate them by ``min_gap`` and ``max_per_answer``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from guardrail.errors import GuardrailConfigError
from guardrail.triggers.base import AnswerText, EntropySource, Trigger

__all__ = ["CheckpointTrigger"]


class CheckpointTrigger:
    """The trigger a monitor runs: several strategies, combined and rate-limited.

    * ``combine="any"``: a checkpoint when at least one strategy fires at this token; the reason
      joins the names of those that fired with ``"+"``, in strategy order.
    * ``combine="all"``: a checkpoint at a token where a strategy fires and every strategy has
      fired at least once since the last checkpoint (this token included); the reason joins all
      names. Checkpoints therefore always sit on a token where some strategy fired.
    * ``min_gap``: a firing less than ``min_gap`` tokens after the last checkpoint (token
      positions ``j - i < min_gap``) is dropped, not deferred, so checkpoints stay on the
      positions their strategies chose. In ``all`` mode the firings still count as "fired since
      the last checkpoint". The first checkpoint of an answer is never gated.
    * ``max_per_answer``: once that many checkpoints were taken, no more fire until ``reset``.

    Every strategy observes every token (they keep running state), so the cost per token is the
    sum of theirs. ``entropy_source`` is the one source all entropy strategies share.
    """

    __slots__ = (
        "_count",
        "_fired",
        "_last_index",
        "_single",
        "combine",
        "entropy_source",
        "max_per_answer",
        "min_gap",
        "triggers",
    )

    def __init__(
        self,
        triggers: Sequence[Trigger],
        *,
        combine: Literal["any", "all"] = "any",
        min_gap: int = 0,
        max_per_answer: int = 16,
    ) -> None:
        if not triggers:
            raise GuardrailConfigError("checkpoints need at least one trigger strategy")
        if min_gap < 0:
            raise GuardrailConfigError(f"checkpoints min_gap must be >= 0, got {min_gap}")
        if max_per_answer < 1:
            raise GuardrailConfigError(
                f"checkpoints max_per_answer must be >= 1, got {max_per_answer}"
            )
        if combine not in ("any", "all"):
            raise GuardrailConfigError(
                f"checkpoints combine must be 'any' or 'all', not {combine!r}"
            )
        self.triggers: tuple[Trigger, ...] = tuple(triggers)
        self.combine = combine
        self.min_gap = min_gap
        self.max_per_answer = max_per_answer
        self.entropy_source = _shared_entropy_source(self.triggers)
        # With one strategy, any and all agree: skip the loop.
        self._single = self.triggers[0] if len(self.triggers) == 1 else None
        self._fired: list[str | None] = [None] * len(self.triggers)
        self._count = 0
        self._last_index: int | None = None

    @property
    def checkpoints_taken(self) -> int:
        """Checkpoints fired since the last ``reset``."""
        return self._count

    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        """Return the combined reason for a checkpoint after this token, else ``None``."""
        if self._count >= self.max_per_answer:
            return None
        single = self._single
        if single is not None:
            reason = single.observe(token, index, answer, entropy)
        elif self.combine == "any":
            reason = self._observe_any(token, index, answer, entropy)
        else:
            reason = self._observe_all(token, index, answer, entropy)
        if reason is None:
            return None
        last = self._last_index
        if last is not None and index - last < self.min_gap:
            return None
        self._last_index = index
        self._count += 1
        if self.combine == "all":
            self._fired = [None] * len(self.triggers)
        return reason

    def reset(self) -> None:
        """Reset every strategy and the gate, for a new answer."""
        for trigger in self.triggers:
            trigger.reset()
        self._fired = [None] * len(self.triggers)
        self._count = 0
        self._last_index = None

    def _observe_any(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        reasons = [t.observe(token, index, answer, entropy) for t in self.triggers]
        fired = [reason for reason in reasons if reason is not None]
        return "+".join(fired) if fired else None

    def _observe_all(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        latched = self._fired
        fired_now = False
        for position, trigger in enumerate(self.triggers):
            reason = trigger.observe(token, index, answer, entropy)
            if reason is not None:
                latched[position] = reason
                fired_now = True
        if not fired_now or None in latched:
            return None
        return "+".join(reason for reason in latched if reason is not None)

    def __repr__(self) -> str:
        return (
            f"CheckpointTrigger({list(self.triggers)!r}, combine={self.combine!r}, "
            f"min_gap={self.min_gap}, max_per_answer={self.max_per_answer})"
        )


def _shared_entropy_source(triggers: Sequence[Trigger]) -> EntropySource | None:
    sources = {t.entropy_source for t in triggers} - {None}
    if len(sources) > 1:
        raise GuardrailConfigError(
            "all entropy strategies of one checkpoint setting must use the same source, got "
            + ", ".join(sorted(str(source) for source in sources))
        )
    return sources.pop() if sources else None
