"""Paragraph-end trigger: a checkpoint where a line of text ends (FINECE.md, best balance)."""

from __future__ import annotations

from typing import Self

from guardrail.errors import GuardrailConfigError
from guardrail.triggers.base import AnswerText, SpecTrigger, expect_spec
from guardrail.triggers.config import ParagraphTriggerSpec, TriggerSpec

__all__ = ["ParagraphTrigger"]


def _visible(text: str) -> int:
    """Number of non-whitespace characters in ``text``."""
    return len("".join(text.split()))


class ParagraphTrigger(SpecTrigger):
    r"""Fire on a token containing a ``"\n"`` that closes a line of ``min_chars``+ visible chars.

    Visible characters are the non-whitespace ones, so blank lines (``"\n\n"``, indentation)
    never fire. A token may hold several newlines or text after its newline (``".\nThe"``): it
    fires once if any line it closes is long enough, and the text after its last newline starts
    the next line. The checkpoint is taken after the whole token. Only ``"\n"`` ends a line
    (``"\r\n"`` works, the ``"\r"`` being whitespace). The trigger counts characters of the
    current line only until it reaches ``min_chars``, so each call costs O(token length).
    """

    __slots__ = ("_line_chars", "min_chars")

    type = "paragraph"

    def __init__(self, min_chars: int = 1) -> None:
        if min_chars < 1:
            raise GuardrailConfigError(f"paragraph min_chars must be >= 1, got {min_chars}")
        self.min_chars = min_chars
        self._line_chars = 0

    @classmethod
    def from_spec(cls, spec: TriggerSpec) -> Self:
        """Build from a :class:`ParagraphTriggerSpec`."""
        return cls(min_chars=expect_spec(spec, ParagraphTriggerSpec).min_chars)

    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        """Return ``"paragraph"`` when this token ends a long enough line."""
        min_chars = self.min_chars
        if "\n" not in token:
            if self._line_chars < min_chars:  # saturated counts need no more counting
                self._line_chars += _visible(token)
            return None
        lines = token.split("\n")
        fired = self._line_chars + _visible(lines[0]) >= min_chars
        if not fired:
            fired = any(_visible(line) >= min_chars for line in lines[1:-1])
        self._line_chars = _visible(lines[-1])
        return self.type if fired else None

    def reset(self) -> None:
        """Start a new answer on an empty line."""
        self._line_chars = 0

    def __repr__(self) -> str:
        return f"ParagraphTrigger(min_chars={self.min_chars})"
