"""What a checkpoint trigger is: the protocol, its spec-built base class and the answer buffer.

A trigger sees the answer one token at a time and says whether a confidence checkpoint should be
taken right after that token. Triggers keep their own running state, so that each call is O(1)
in the length of the answer; none of them rescans the text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, Protocol, Self, TypeVar

from pydantic import BaseModel

from guardrail.errors import GuardrailConfigError
from guardrail.triggers.config import TriggerSpec

__all__ = ["AnswerText", "EntropySource", "SpecTrigger", "Trigger"]

EntropySource = Literal["auto", "logprobs", "scorer"]
"""Where an entropy trigger takes entropy from (see :class:`EntropyTriggerSpec`)."""

_SpecT = TypeVar("_SpecT", bound=BaseModel)


class AnswerText:
    """Append-only text of the answer streamed so far.

    ``append`` and ``len()`` are O(1). ``text`` joins the pieces on demand and caches the result
    until the next append, so reading it once per checkpoint is cheap but reading it on every
    token costs O(length) each time (a trigger that does so is no longer O(1) per token);
    ``tail(n)`` reads only the last ``n`` characters.
    """

    __slots__ = ("_joined", "_length", "_parts")

    def __init__(self, text: str = "") -> None:
        self._parts: list[str] = [text] if text else []
        self._length = len(text)
        self._joined: str | None = text

    def append(self, piece: str) -> None:
        """Add ``piece`` at the end."""
        self._parts.append(piece)
        self._length += len(piece)
        self._joined = None

    @property
    def text(self) -> str:
        """The whole answer as one string."""
        joined = self._joined
        if joined is None:
            joined = "".join(self._parts)
            self._parts = [joined] if joined else []
            self._joined = joined
        return joined

    def tail(self, n: int) -> str:
        """The last ``n`` characters (fewer when the answer is shorter)."""
        if n <= 0:
            return ""
        pieces: list[str] = []
        needed = n
        for piece in reversed(self._parts):
            if len(piece) >= needed:
                pieces.append(piece[len(piece) - needed :])
                break
            pieces.append(piece)
            needed -= len(piece)
        return "".join(reversed(pieces))

    def __len__(self) -> int:
        return self._length

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"AnswerText({self.text!r})"


class Trigger(Protocol):
    """Decides, token by token, where confidence checkpoints go.

    ``observe`` is called once per answer token, in order: ``token`` is the token's text,
    ``index`` its 0-based position in the answer, ``answer`` the answer so far *including* this
    token and ``entropy`` the generator's next-token entropy at this token (nats), or ``None``
    when it is not known. It returns a short reason (``"paragraph"``) to take a checkpoint right
    after this token, else ``None``. ``reset`` forgets all state, for a new answer.
    ``entropy_source`` says where this trigger wants entropy from (``None``: it ignores entropy,
    and callers need not compute any).
    """

    @property
    def entropy_source(self) -> EntropySource | None:
        """Where entropy should come from, or ``None`` when the trigger does not use it."""
        ...

    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        """Return a reason to take a checkpoint after this token, else ``None``."""
        ...

    def reset(self) -> None:
        """Forget everything seen, ready for a new answer."""
        ...


class SpecTrigger(ABC):
    """Base of the triggers the registry builds from a spec of ``checkpoints.strategies``.

    Subclasses set ``type`` to their spec's ``type`` literal and implement ``from_spec``.
    """

    __slots__ = ()

    type: ClassVar[str]
    entropy_source: EntropySource | None = None

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: TriggerSpec) -> Self:
        """Build the trigger from its validated spec."""

    @abstractmethod
    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        """Return a reason to take a checkpoint after this token, else ``None``."""

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen, ready for a new answer."""


def expect_spec(spec: TriggerSpec, kind: type[_SpecT]) -> _SpecT:
    """Narrow ``spec`` to ``kind`` or raise :class:`GuardrailConfigError`."""
    if not isinstance(spec, kind):
        raise GuardrailConfigError(
            f"expected a {kind.__name__}, got {type(spec).__name__} "
            f"(type {getattr(spec, 'type', '?')!r})"
        )
    return spec
