"""The generator interface of the data builder: k sampled completions per prompt.

A :class:`Prompt` is a chat plus an optional assistant ``prefix`` (a partial answer the model
continues). Generators return, for each prompt, ``n`` :class:`Completion` objects whose text
continues the prefix (the prefix itself excluded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from guardrail.errors import GuardrailRuntimeError

__all__ = ["Completion", "GenerationError", "Generator", "Message", "Prompt"]

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class Prompt:
    """Chat messages, then (optionally) the start of the assistant's answer to continue."""

    messages: tuple[Message, ...]
    prefix: str = ""


@dataclass(frozen=True, slots=True)
class Completion:
    """One sampled continuation: its text, how many tokens it took, and why it ended."""

    text: str
    tokens: int
    finish_reason: Literal["stop", "length"] = "stop"


class GenerationError(GuardrailRuntimeError):
    """A generator failed to produce completions (after its retries, if it retries)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.is_retryable = retryable


@runtime_checkable
class Generator(Protocol):
    """Samples ``n`` completions for each prompt.

    ``temperature == 0`` is greedy. Generation ends at the model's end of turn, at any string of
    ``stop`` (not included in the text) or after ``max_new_tokens`` tokens. ``seed`` makes a call
    reproducible where the backend allows it.
    """

    name: str

    def sample(
        self,
        prompts: Sequence[Prompt],
        n: int,
        *,
        temperature: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[Completion]]:
        """``n`` completions for every prompt, in prompt order."""
        ...
