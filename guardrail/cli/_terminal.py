"""Print stored text without letting it drive the terminal.

Questions, answers, notes and audit payloads come from models and users. Written raw, an
escape sequence in them can retitle or clear the terminal, move the cursor and redraw what the
reviewer reads (``status: pending`` shown as ``status: approved``), and bidi controls can
reorder it. :func:`terminal_safe` shows every such character as a visible escape instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["json_safe", "terminal_safe"]

# C0 (but tab and newline), DEL, C1, and the Unicode bidi embedding/override/isolate controls.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    r"""``text`` with control characters written as ``\x1b`` / ``\u202e`` escapes."""
    return _UNSAFE.sub(_escape, text)


def json_safe(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """``value`` as JSON with every non-ASCII character escaped (no raw C1 controls)."""
    return json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=True)
