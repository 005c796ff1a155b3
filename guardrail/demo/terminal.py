"""Terminal rendering for the demo: streamed text, confidence gauges, actions, a summary."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

__all__ = ["Terminal"]

_RESET, _DIM, _BOLD = "\033[0m", "\033[2m", "\033[1m"
_RED, _YELLOW, _GREEN, _CYAN = "\033[31m", "\033[33m", "\033[32m", "\033[36m"


class Terminal:
    """Writes the demo's output; colour only on a TTY (and never with ``NO_COLOR``)."""

    def __init__(self, out: TextIO | None = None, *, color: bool | None = None) -> None:
        self.out = out or sys.stdout
        if color is None:
            color = self.out.isatty() and "NO_COLOR" not in os.environ
        self.color = color

    def _c(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def write(self, text: str) -> None:
        """Raw text, flushed at once (streamed tokens)."""
        self.out.write(text)
        self.out.flush()

    def header(self, number: int, total: int, question: str) -> None:
        """The question being answered."""
        self.write(f"\n{self._c(_BOLD, f'[{number}/{total}]')} {question}\n")

    def gauge(self, payload: Mapping[str, Any]) -> None:
        """A checkpoint: ``[paragraph 0.72 #######...]`` coloured by confidence."""
        value = float(payload.get("revised", payload.get("confidence", 0.0)))
        filled = round(value * 10)
        bar = "#" * filled + "." * (10 - filled)
        colour = _GREEN if value >= 0.7 else _YELLOW if value >= 0.4 else _RED
        label = f"{payload.get('stage', '?')}:{payload.get('reason', '?')}"
        gauge = self._c(colour, f"{value:.2f} {bar}")
        self.write(self._c(_DIM, f" [{label} ") + gauge + self._c(_DIM, "] "))

    def action(self, text: str) -> None:
        """An action the guard took (retry, escalate, review...)."""
        self.write("\n" + self._c(_CYAN, f"  >> {text}") + "\n")

    def summary(self, rows: Sequence[Sequence[str]], headers: Sequence[str]) -> None:
        """A plain-text table."""
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        self.write("\n" + self._c(_BOLD, line) + "\n")
        for row in rows:
            self.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + "\n")
