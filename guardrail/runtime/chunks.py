"""ChunkGate: when the chunks of one streamed attempt reach the caller.

**Pass-through** (``"pass_through"``): each chunk is released as soon as it arrives. Lowest
latency, but the caller may see text the guard later retracts (a *restart* marker says so).

**Hold-back** (``"hold_back"``): chunks are held until the next checkpoint passes (its decision
lets the answer go on), then released together. Told how many answer tokens had streamed when
each chunk arrived (``fed``) and up to which token the passed checkpoints cleared the answer
(``cleared``), the gate releases the held chunks exactly up to that token (with non-blocking
checkpoints, the chunks that streamed while a checkpoint was scored wait for the next one).
With ``hold_back_tokens=N`` at most ``N`` chunks are held (older ones are released early, so a
retraction can only concern the last ``N``). The caller never sees text that a checkpoint
rejected, at the cost of latency: up to a paragraph (or ``N`` chunks) arrives at once.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, Literal, TypeVar

from guardrail.errors import GuardrailConfigError

__all__ = ["STREAMING_MODES", "ChunkGate", "StreamingMode"]

StreamingMode = Literal["pass_through", "hold_back"]
"""How a guarded stream releases its chunks (see the module documentation)."""

STREAMING_MODES: tuple[StreamingMode, ...] = ("pass_through", "hold_back")

C = TypeVar("C")


class ChunkGate(Generic[C]):
    """Decides when the chunks of one attempt reach the caller (see the module documentation).

    ``push(chunk, passed)`` takes a chunk and the number of checkpoints passed so far and
    returns the chunks to release now; with ``fed`` (answer tokens streamed when the chunk
    arrived) and ``cleared`` (tokens up to the last checkpoint that passed), held chunks are
    released exactly up to the cleared token instead; ``flush()`` releases the rest (the
    attempt completed); ``discard()`` drops what is held (the attempt was interrupted).
    ``shown`` counts the chunks released for the current attempt.
    """

    def __init__(self, mode: StreamingMode = "pass_through", hold_back_tokens: int | None = None):
        if mode not in STREAMING_MODES:
            raise GuardrailConfigError(
                f"streaming must be 'pass_through' or 'hold_back', got {mode!r}"
            )
        if hold_back_tokens is not None and hold_back_tokens < 1:
            raise GuardrailConfigError(f"hold_back_tokens must be >= 1, got {hold_back_tokens}")
        self.mode: StreamingMode = mode
        self.hold_back_tokens = hold_back_tokens
        self.shown = 0
        self._held: deque[C] = deque()
        self._fed: deque[int] = deque()
        self._passed = 0

    def reset(self) -> None:
        """Start a new attempt: nothing held, nothing shown, no checkpoint passed."""
        self._held.clear()
        self._fed.clear()
        self.shown = 0
        self._passed = 0

    @property
    def held(self) -> int:
        """Chunks currently held back."""
        return len(self._held)

    def push(
        self, chunk: C, passed: int, *, fed: int | None = None, cleared: int | None = None
    ) -> list[C]:
        """Add ``chunk``; return the chunks that may be shown now."""
        if self.mode == "pass_through":
            self.shown += 1
            return [chunk]
        self._held.append(chunk)
        self._fed.append(0 if fed is None else fed)
        released: list[C] = []
        if fed is not None and cleared is not None:
            while self._held and self._fed[0] <= cleared:
                released.append(self._pop())
        elif passed > self._passed:
            self._passed = passed
            return self.flush()
        limit = self.hold_back_tokens
        while limit is not None and len(self._held) > limit:
            released.append(self._pop())
        self.shown += len(released)
        return released

    def flush(self) -> list[C]:
        """Release everything held."""
        released = list(self._held)
        self._held.clear()
        self._fed.clear()
        self.shown += len(released)
        return released

    def discard(self) -> int:
        """Drop everything held; return how many chunks were dropped."""
        dropped = len(self._held)
        self._held.clear()
        self._fed.clear()
        return dropped

    def _pop(self) -> C:
        self._fed.popleft()
        return self._held.popleft()
