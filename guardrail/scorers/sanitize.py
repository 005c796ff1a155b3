r"""Make untrusted text safe to put in the scorer's prompt.

Questions and answers come from users, models and tools that nobody vetted. Before they are
tokenized they go through :func:`normalize_text`, which

* replaces lone UTF-16 surrogates (``"\ud800"``, or the ``"\udcff"`` Python makes of an
  invalid UTF-8 byte in ``argv``) with U+FFFD, so the tokenizer never raises on them;
* drops carriage returns and replaces every other control character except tab and newline
  (C0, DEL, C1: terminal escapes, NULs) with a space.

The mapping works one character at a time (surrogate pairs aside), so it never makes text
longer, and the scorer's prompt builder then tokenizes the result with special tokens split
(:class:`~guardrail.scorers.prompt.TokenizedPrompt`): text cannot forge the chat template.
"""

from __future__ import annotations

import re

__all__ = ["normalize_text"]

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _control(match: re.Match[str]) -> str:
    return "" if match.group() == "\r" else " "


def normalize_text(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD and control characters normalised (see module)."""
    if not text.isascii() and _SURROGATE.search(text):
        # Pairs become their character, lone halves U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROLS.sub(_control, text)
