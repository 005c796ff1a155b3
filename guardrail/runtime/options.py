"""GuardOptions: how a guarded call behaves, one typed object shared by every entry point.

:func:`~guardrail.integrations.langchain.guard`,
:class:`~guardrail.integrations.langchain.FineCEMiddleware`,
:func:`~guardrail.integrations.litellm.guarded_completion` and the LiteLLM proxy's
:class:`~guardrail.integrations.litellm.FineCEGuardrail` take ``options=GuardOptions(...)``
or the same names as keywords (:class:`GuardSettings`); the defaults are defined here once.

**Review timeout.** A blocking ``human_review`` holds the call until a person decides, at
most ``review_timeout_s`` (default :data:`DEFAULT_REVIEW_TIMEOUT_S`, 300 s, on every entry
point): long enough for a reviewer on call, short enough that a held request or worker is
released before a client or load balancer gives up on it. A review that should wait longer
belongs in a provisional review (the answer goes out marked ``pending_review``) or in
LangGraph's ``interrupt()``, which waits without holding anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypedDict, TypeVar, Unpack

from guardrail.errors import GuardrailConfigError
from guardrail.runtime.chunks import ChunkGate, StreamingMode

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_REVIEW_TIMEOUT_S",
    "USE_POLICY",
    "GuardOptions",
    "GuardSettings",
    "split_settings",
]

V = TypeVar("V")

USE_POLICY = "policy"
"""``latency_budget_s=USE_POLICY`` takes the budget from ``policy.scorer.latency_budget_s``."""

DEFAULT_REVIEW_TIMEOUT_S = 300.0
"""How long a blocking review may hold a call, in seconds (see the module documentation)."""

DEFAULT_MAX_ATTEMPTS = 16
"""Attempts of one call at most (retries, escalations, self-corrections included)."""


class GuardSettings(TypedDict, total=False):
    """The fields of :class:`GuardOptions`, as keyword arguments of an entry point."""

    mode: Literal["enforce", "observe"]
    """``enforce`` acts on decisions; ``observe`` only records them."""
    latency_budget_s: float | str | None
    """Seconds a checkpoint's score may take (``"policy"``: the policy's; ``None``: no bound)."""
    max_attempts: int
    """Attempts of one call at most; the next one is an abort."""
    review_timeout_s: float
    """How long a blocking human review may hold the call, in seconds."""
    streaming: StreamingMode
    """When a stream's chunks are shown: ``pass_through`` or ``hold_back``."""
    hold_back_tokens: int | None
    """With ``hold_back``: chunks held at most (``None``: up to the next checkpoint)."""
    sleep: Callable[[float], None]
    """Sleeps between attempts on the sync path (tests make it instant)."""
    asleep: Callable[[float], Awaitable[None]]
    """Sleeps between attempts on the async path."""
    rng: Callable[[], float]
    """Draws the retry backoff's jitter in ``[0, 1)``."""


@dataclass(frozen=True, slots=True)
class GuardOptions:
    """How a guarded call behaves (fields: :class:`GuardSettings`); validated when made.

    The policy, scorer, review sink and audit log are the
    :class:`~guardrail.runtime.GuardConfig`'s; these are the call's settings around them.
    """

    mode: Literal["enforce", "observe"] = "enforce"
    latency_budget_s: float | str | None = USE_POLICY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    review_timeout_s: float = DEFAULT_REVIEW_TIMEOUT_S
    streaming: StreamingMode = "pass_through"
    hold_back_tokens: int | None = None
    sleep: Callable[[float], None] = time.sleep
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.mode not in ("enforce", "observe"):
            raise GuardrailConfigError(f"mode must be 'enforce' or 'observe', got {self.mode!r}")
        budget = self.latency_budget_s
        if budget != USE_POLICY and not (budget is None or isinstance(budget, int | float)):
            raise GuardrailConfigError(
                f"latency_budget_s must be a number, None or 'policy', got {budget!r}"
            )
        if self.max_attempts < 1:
            raise GuardrailConfigError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.review_timeout_s <= 0:
            raise GuardrailConfigError(
                f"review_timeout_s must be > 0 seconds, got {self.review_timeout_s}"
            )
        ChunkGate(self.streaming, self.hold_back_tokens)  # names a bad streaming setting

    def replace(self, **settings: Unpack[GuardSettings]) -> GuardOptions:
        """A copy with ``settings`` changed (validated again)."""
        return dataclasses.replace(self, **settings) if settings else self

    @classmethod
    def of(cls, options: GuardOptions | None, **settings: Unpack[GuardSettings]) -> GuardOptions:
        """``options`` (default: all defaults) with the keyword ``settings`` applied."""
        return (options or cls()).replace(**settings)


def split_settings(kwargs: Mapping[str, V]) -> tuple[GuardSettings, dict[str, V]]:
    """``kwargs`` split into guard settings (names of :class:`GuardSettings`) and the rest.

    The settings are validated when a :class:`GuardOptions` is made from them.
    """
    names = GuardSettings.__annotations__.keys()
    settings: dict[str, V] = {k: v for k, v in kwargs.items() if k in names}
    rest = {k: v for k, v in kwargs.items() if k not in names}
    return GuardSettings(**settings), rest  # type: ignore[typeddict-item]
