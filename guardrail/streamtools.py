"""Streaming helpers shared by the local-model adapters (LangChain chat model, litellm provider).

:class:`TextRelease` groups generated tokens into text that can be shown, holding back the
start of a stop string until it is known not to be one; :func:`iterate_in_thread` drives a
blocking iterator from asyncio one step at a time without getting ahead of the consumer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from guardrail.generation import TokenStep

__all__ = ["TextPiece", "TextRelease", "iterate_in_thread"]


@dataclass(frozen=True, slots=True)
class TextPiece:
    """Released answer text and the OpenAI logprob entries of the tokens that produced it."""

    text: str
    logprobs: list[dict[str, Any]]


class TextRelease:
    """Groups generated tokens into released text, never releasing the start of a stop string."""

    def __init__(self, stop: Sequence[str]) -> None:
        self._stop = tuple(s for s in stop if s)
        self._longest = max((len(s) for s in self._stop), default=0)
        self._pending = ""
        self._entries: list[dict[str, Any]] = []
        self.stopped = False
        self.tokens = 0

    def push(self, step: TokenStep) -> TextPiece | None:
        """Add one token; return the text that can be released now, if any."""
        self.tokens += 1
        self._entries.append(step.openai_logprob())
        self._pending += step.text
        found = [i for s in self._stop if (i := self._pending.find(s)) >= 0]
        if found:
            self.stopped = True
            text = self._pending[: min(found)]
            piece = TextPiece(text, self._entries) if text else None
            self._pending, self._entries = "", []
            return piece
        size = len(self._pending) - self._held_back()
        if size == 0:
            return None
        piece = TextPiece(self._pending[:size], self._entries)
        self._pending, self._entries = self._pending[size:], []
        return piece

    def flush(self) -> TextPiece | None:
        """What is still held at the end of a generation that no stop string ended."""
        if self.stopped or not (self._pending or self._entries):
            return None
        piece = TextPiece(self._pending, self._entries)
        self._pending, self._entries = "", []
        return piece

    def _held_back(self) -> int:
        """Length of the longest end of the pending text that some stop string starts with."""
        for size in range(min(len(self._pending), self._longest - 1), 0, -1):
            tail = self._pending[-size:]
            if any(s.startswith(tail) for s in self._stop):
                return size
        return 0


_T = TypeVar("_T")
_DONE = object()


async def iterate_in_thread(items: Iterator[_T]) -> AsyncGenerator[_T, None]:
    """Advance ``items`` in a worker thread, one step per item asked for, never ahead.

    When the consumer stops (``break`` then ``aclose``, or cancellation) the iterator is closed,
    so generation ends after at most the step in flight.
    """
    lock = threading.Lock()

    def advance() -> object:
        with lock:
            return next(items, _DONE)

    def close() -> None:
        with lock:
            _close(items)

    try:
        while (item := await asyncio.to_thread(advance)) is not _DONE:
            yield cast(_T, item)
    finally:
        if lock.acquire(blocking=False):
            try:
                _close(items)
            finally:
                lock.release()
        else:  # cancelled mid-step: that step ends in its thread, which then closes `items`
            threading.Thread(target=close, daemon=True).start()


def _close(items: Iterator[Any]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()
