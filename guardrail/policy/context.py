"""The run context a policy decides in: which attempt, which model, which tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from guardrail.redaction import redact

if TYPE_CHECKING:
    from guardrail.policy.drift import LiveCalibration

__all__ = ["RunContext"]


@dataclass(frozen=True, slots=True)
class RunContext:
    """What the engine knows about the run besides the checkpoint itself.

    ``attempt`` is 1 for the first generation of an answer and grows with every retry or
    escalation. ``model`` is the generator's name (matched by ``model:`` globs), ``tags`` and
    ``metadata`` are free-form labels of the run, and ``max_tokens`` is the generation's token
    limit, used for the fraction of the answer seen (``None``: unknown). ``tool`` is the name
    of the tool a ``tool_call`` checkpoint judges (matched by ``tool:`` globs; ``None``
    elsewhere). ``calibration`` is the live calibration of the guard over the last decided
    review items (read by ``calibration_drift``; ``None``: unknown), which the runtime's drift
    monitor (:mod:`guardrail.runtime.drift`) fills in.
    """

    attempt: int = 1
    model: str = ""
    tags: frozenset[str] = frozenset()
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)
    max_tokens: int | None = None
    tool: str | None = None
    calibration: LiveCalibration | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 1:
            raise ValueError(f"attempt must be an integer >= 1, got {self.attempt!r}")
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or self.max_tokens < 1
        ):
            raise ValueError(f"max_tokens must be None or an integer >= 1, got {self.max_tokens!r}")
        tags: Iterable[str] = self.tags
        if isinstance(tags, str):
            raise TypeError("tags must be a collection of strings, not one string")
        object.__setattr__(self, "tags", frozenset(tags))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping for audit records (tags sorted, metadata redacted).

        Metadata is walked by :func:`guardrail.redaction.redact` before anything is turned
        into a string, so secrets nested in it (headers, credentials) are masked.
        """
        return {
            "attempt": self.attempt,
            "model": self.model,
            "tags": sorted(self.tags),
            "metadata": redact(dict(self.metadata)),
            "max_tokens": self.max_tokens,
            **({} if self.tool is None else {"tool": self.tool}),
            **({} if self.calibration is None else {"calibration": self.calibration.to_dict()}),
        }
