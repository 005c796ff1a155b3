"""The answer's token ids, bounded to a character window and kept up to date incrementally.

The scorer reads at most ``max_input_tokens`` tokens, and of the answer only the most recent
ones (:func:`~guardrail.scorers.prompt.answer_window`). Finding them must not cost the whole
answer at every checkpoint, so the answer is read in two steps:

* A **character window**: only the last ``CHARS_PER_TOKEN_CAP * max_input_tokens`` characters
  (at most) are tokenized. The window's start moves in steps of a quarter of that, so a stream
  re-tokenizes it only once per step. An answer shorter than the window is tokenized whole,
  exactly as before; a longer one is tokenized from the window's start, which holds far more
  than ``max_input_tokens`` tokens of ordinary text (16 characters per token; English averages
  about 4), so the token window inside it is what the model reads.
* **Incremental tokenization**: a stream (:class:`AnswerTokens`) keeps the window's ids with
  their character offsets; at a checkpoint it tokenizes only the text appended since the last
  one, plus a short overlap before the seam: the last ``SEAM_TOKENS`` tokens are tokenized again
  (a BPE merge may join them to the new text) after ``SEAM_TOKENS`` tokens of context that must
  come out unchanged. When they do not, the window is tokenized whole (still bounded).

Both paths give the same ids (:func:`window_ids` for one estimate, :class:`AnswerTokens` for a
stream), so a stream's estimate equals a one-off estimate of the same text. Tokens cut with the
characters before the window are counted by an estimate (the window's tokens per character),
the same in both paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guardrail.scorers.sanitize import normalize_text

__all__ = [
    "CHARS_PER_TOKEN_CAP",
    "SEAM_TOKENS",
    "AnswerEncoder",
    "AnswerTokens",
    "TokenWindow",
    "char_window_start",
    "window_ids",
]

CHARS_PER_TOKEN_CAP = 16
"""Characters of answer tokenized per token of ``max_input_tokens`` (the character window)."""

SEAM_TOKENS = 8
"""Tokens re-tokenized before the seam at a checkpoint, and as many of context before them."""

Offsets = list[tuple[int, int]]


def char_window_start(length: int, max_input_tokens: int) -> int:
    """How many leading characters of a ``length``-character answer are not tokenized at all.

    Zero while the answer fits ``CHARS_PER_TOKEN_CAP * max_input_tokens`` characters; beyond,
    the cut moves in steps of a quarter of that, keeping between three quarters and all of it.
    """
    cap = CHARS_PER_TOKEN_CAP * max_input_tokens
    if length <= cap:
        return 0
    stride = max(1, cap // 4)
    return -(-(length - cap) // stride) * stride


class AnswerEncoder:
    """Tokenizes untrusted answer text as the prompt does, with character offsets.

    Special-token strings are split into ordinary characters (as
    :meth:`~guardrail.scorers.prompt.TokenizedPrompt.answer_ids` does). A fast tokenizer's
    backend is copied once without its post-processor, so offsets are the model's own (never
    trimmed); a tokenizer without a backend gives no offsets, and streams then re-tokenize their
    (bounded) window at every checkpoint.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._core: Any = None
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:
            from tokenizers import Tokenizer

            core = Tokenizer.from_str(backend.to_str())
            core.post_processor = None
            core.encode_special_tokens = True
            core.no_truncation()
            core.no_padding()
            self._core = core

    @property
    def has_offsets(self) -> bool:
        """Whether :meth:`encode` returns offsets (a fast tokenizer)."""
        return self._core is not None

    def encode(self, text: str) -> tuple[list[int], Offsets | None]:
        """Ids of ``text`` (already normalised) and each token's ``(start, end)`` characters."""
        if not text:
            return [], []
        if self._core is None:
            ids = self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)
            return list(ids["input_ids"]), None
        encoding = self._core.encode(text, add_special_tokens=False)
        return list(encoding.ids), list(encoding.offsets)


@dataclass(frozen=True, slots=True)
class TokenWindow:
    """The answer tokens an estimate may read: those of the character window."""

    ids: Sequence[int]
    """Ids of the normalised window text (a stream's are valid until its next checkpoint)."""
    start: int
    """Characters of the answer before the window (0: the whole answer was tokenized)."""
    window_chars: int
    """Characters in the window."""
    max_input_tokens: int
    """The bound the window was cut for."""

    @property
    def cut_tokens(self) -> int:
        """Tokens estimated for the characters before the window (0 when there are none)."""
        if self.start == 0:
            return 0
        return math.ceil(self.start * len(self.ids) / max(1, self.window_chars))


def window_ids(encoder: AnswerEncoder, answer: str, max_input_tokens: int) -> TokenWindow:
    """The character window of ``answer`` tokenized (one estimate; see the module)."""
    start = char_window_start(len(answer), max_input_tokens)
    raw = answer[start:]
    ids, _ = encoder.encode(normalize_text(raw))
    return TokenWindow(
        ids=ids, start=start, window_chars=len(raw), max_input_tokens=max_input_tokens
    )


_HIGH = ("\ud800", "\udbff")
_LOW = ("\udc00", "\udfff")


def _is(char: str, bounds: tuple[str, str]) -> bool:
    return bounds[0] <= char <= bounds[1]


def _tail(parts: Sequence[str], count: int) -> str:
    """The last ``count`` characters of ``"".join(parts)``, joining only the parts needed."""
    taken: list[str] = []
    need = count
    for part in reversed(parts):
        if need <= 0:
            break
        taken.append(part[-need:] if len(part) > need else part)
        need -= len(taken[-1])
    return "".join(reversed(taken))


class AnswerTokens:
    """One stream's answer: appended text, and the ids of its character window kept current.

    ``append`` only stores text; :meth:`window` (called at a checkpoint) tokenizes what was
    appended since the last call. The ids always equal :func:`window_ids` of the whole text.
    """

    def __init__(self, encoder: AnswerEncoder, max_input_tokens: int) -> None:
        self._encoder = encoder
        self._max_input_tokens = max_input_tokens
        self._parts: list[str] = []  # everything appended (joined when ``text`` is read)
        self._pending: list[str] = []  # appended since the last checkpoint
        self._length = 0  # characters before the pending ones
        self._start = 0  # characters before the window
        self._raw = ""  # the window's text as appended
        self._norm = ""  # ... normalised
        self._ids: list[int] = []
        self._offsets: Offsets | None = []
        self.full_encodes = 0
        """How many times the whole window was tokenized (the other checkpoints were not)."""

    def append(self, text: str) -> None:
        """Add streamed answer text (nothing is tokenized until :meth:`window`)."""
        if text:
            self._parts.append(text)
            self._pending.append(text)

    @property
    def length(self) -> int:
        """Characters appended so far."""
        return self._length + sum(len(part) for part in self._pending)

    @property
    def text(self) -> str:
        """The whole answer so far."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def window(self) -> TokenWindow:
        """The current window's ids, tokenizing only what was appended since the last call."""
        pending, self._pending = self._pending, []
        if pending:
            length = self._length + sum(len(part) for part in pending)
            start = char_window_start(length, self._max_input_tokens)
            if start > self._start or not self._raw:
                self._raw = _tail([self._raw, *pending], length - start)
                self._norm = normalize_text(self._raw)
                self._reencode()
            else:
                self._extend("".join(pending))
            self._length, self._start = length, start
        return TokenWindow(
            ids=self._ids,
            start=self._start,
            window_chars=len(self._raw),
            max_input_tokens=self._max_input_tokens,
        )

    def continues(self, text: str) -> bool:
        """Whether ``text`` is what was appended so far plus more (checked on the window).

        Only the window's characters are compared (bounded work): the ids depend on nothing
        before it.
        """
        if len(text) < self.length:
            return False
        self.window()
        return text[self._start : self._length] == self._raw

    # ----------------------------------------------------------------- internals
    def _reencode(self) -> None:
        self._ids, self._offsets = self._encoder.encode(self._norm)
        self.full_encodes += 1

    def _extend(self, new: str) -> None:
        """Append ``new`` raw text to the window and re-tokenize from a seam before it."""
        changed = len(self._norm)  # first normalised character that may change
        if self._raw and _is(self._raw[-1], _HIGH) and _is(new[0], _LOW):
            # a surrogate pair split across appends: it normalises as one character
            changed -= 1
            self._norm = self._norm[:-1] + normalize_text(self._raw[-1] + new)
        else:
            self._norm += normalize_text(new)
        self._raw += new
        if not self._splice(changed):
            self._reencode()

    def _splice(self, changed: int) -> bool:
        """Re-tokenize from ``SEAM_TOKENS`` tokens before ``changed``; False: not possible."""
        ids, offsets = self._ids, self._offsets
        if offsets is None or len(ids) < 2 * SEAM_TOKENS + 1:
            return False
        seam = len(ids) - SEAM_TOKENS
        while seam > SEAM_TOKENS and not (_clean(offsets, seam) and offsets[seam][0] <= changed):
            seam -= 1
        context = seam - SEAM_TOKENS
        while context > 0 and not _clean(offsets, context):
            context -= 1
        if seam <= SEAM_TOKENS or not _clean(offsets, seam):
            return False
        begin, at = offsets[context][0], offsets[seam][0]
        new_ids, new_offsets = self._encoder.encode(self._norm[begin:])
        if new_offsets is None:
            return False
        shifted = [(s + begin, e + begin) for s, e in new_offsets]
        join = seam - context
        if new_ids[:join] != ids[context:seam] or shifted[:join] != offsets[context:seam]:
            return False
        if join >= len(shifted) or shifted[join][0] != at:
            return False
        del ids[seam:], offsets[seam:]
        ids.extend(new_ids[join:])
        offsets.extend(shifted[join:])
        return True


def _clean(offsets: Offsets, index: int) -> bool:
    """Token ``index`` starts on a character of its own (not inside a split character)."""
    return index == 0 or offsets[index - 1][1] <= offsets[index][0]
