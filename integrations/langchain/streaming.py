"""Streaming a guarded answer to the caller: pass-through or hold-back, and in-band markers.

**Pass-through** (``streaming="pass_through"``): each chunk is yielded as soon as the wrapped
runnable yields it. Lowest latency, but the caller may see text the guard later retracts: when
an attempt is interrupted (retry, escalation, self-correction, review edit) a *restart* marker
tells the caller to discard what it showed of that attempt, and an abort ends the stream with a
*final* marker and then raises :class:`~guardrail.runtime.GuardAborted`.

**Hold-back** (``streaming="hold_back"``): chunks are held until the next checkpoint passes
(its decision lets the answer go on), then released together (with non-blocking checkpoints,
the chunks up to the checkpoint's token are released when its score clears them; the ones
that streamed meanwhile wait for the next checkpoint); with ``hold_back_tokens=N``
at most ``N`` chunks are held (older ones are released early, so a retraction can only concern
the last ``N``). The caller never sees text that a checkpoint rejected, at the cost of latency:
up to a whole paragraph (or ``N`` chunks) arrives at once.

Markers are ``AIMessageChunk(content="", response_metadata={"guardrail": {...}})`` when the
stream carries message chunks (summing chunks keeps the metadata); ``marker_factory`` builds
them for other chunk types (none are emitted otherwise). The final marker's payload is the
call's :meth:`~guardrail.runtime.GuardedResult.to_dict` plus ``"marker": "final"``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, BaseMessageChunk

from guardrail.errors import GuardrailConfigError
from guardrail.runtime import Again, AttemptReport, Fail, Finish, GuardedResult, Step

__all__ = [
    "ChunkGate",
    "MarkerFactory",
    "StreamCloser",
    "StreamingMode",
    "chunk_from_text",
    "default_marker",
]

_logger = logging.getLogger(__name__)

StreamingMode = Literal["pass_through", "hold_back"]

MarkerFactory = Callable[[str, Mapping[str, Any]], Any]
"""``(kind, payload) -> chunk``; ``kind`` is ``"restart"`` or ``"final"``."""


def default_marker(kind: str, payload: Mapping[str, Any], sample: object) -> Any:
    """A marker chunk shaped like ``sample`` (message chunks only; else ``None``)."""
    if isinstance(sample, BaseMessageChunk | BaseMessage) or sample is AIMessageChunk:
        return AIMessageChunk(
            content="", response_metadata={"guardrail": {"marker": kind, **payload}}
        )
    return None


def chunk_from_text(text: str, sample: object) -> Any:
    """``text`` as one chunk shaped like ``sample`` (a message chunk, else the string)."""
    if isinstance(sample, BaseMessageChunk | AIMessage) or sample is AIMessageChunk:
        return AIMessageChunk(content=text)
    return text


class ChunkGate:
    """Decides when the chunks of one attempt reach the caller (see the module documentation).

    ``push(chunk, passed)`` takes a chunk and the number of checkpoints passed so far and
    returns the chunks to release now; with ``fed`` (answer tokens streamed when the chunk
    arrived) and ``cleared`` (tokens up to the last checkpoint that passed), held chunks are
    released exactly up to the cleared token instead; ``flush()`` releases the rest (the attempt completed);
    ``discard()`` drops what is held (the attempt was interrupted). ``shown`` counts the chunks
    released for the current attempt.
    """

    def __init__(self, mode: StreamingMode = "pass_through", hold_back_tokens: int | None = None):
        if mode not in ("pass_through", "hold_back"):
            raise GuardrailConfigError(
                f"streaming must be 'pass_through' or 'hold_back', got {mode!r}"
            )
        if hold_back_tokens is not None and hold_back_tokens < 1:
            raise GuardrailConfigError(f"hold_back_tokens must be >= 1, got {hold_back_tokens}")
        self.mode: StreamingMode = mode
        self.hold_back_tokens = hold_back_tokens
        self.shown = 0
        self._held: deque[Any] = deque()
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
        self, chunk: Any, passed: int, *, fed: int | None = None, cleared: int | None = None
    ) -> list[Any]:
        """Add ``chunk``; return the chunks that may be shown now."""
        if self.mode == "pass_through":
            self.shown += 1
            return [chunk]
        self._held.append(chunk)
        self._fed.append(0 if fed is None else fed)
        released: list[Any] = []
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

    def flush(self) -> list[Any]:
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

    def _pop(self) -> Any:
        self._fed.popleft()
        return self._held.popleft()


class StreamCloser:
    """The chunks that close an attempt in the stream: restart/final markers, replacements."""

    def __init__(self, marker_factory: MarkerFactory | None = None) -> None:
        self.marker_factory = marker_factory

    def chunks(self, step: Step, gate: ChunkGate, report: AttemptReport, shape: Any) -> list[Any]:
        """What to yield after the attempt ``report`` describes, given the loop's ``step``."""
        chunks: list[Any] = []
        if isinstance(step, Again):
            if gate.shown:
                payload = {"next_attempt": step.plan.attempt, "action": step.plan.kind}
                chunks.append(self._restart(payload, shape, gate.shown))
        elif isinstance(step, Finish):
            result = step.result
            if report.signal is not None:  # the answer was replaced or cut: show the final one
                if gate.shown:
                    chunks.append(self._restart({"status": result.status}, shape, gate.shown))
                if result.answer:
                    chunks.append(chunk_from_text(result.answer, shape))
            chunks.append(self.marker("final", result.to_dict(), shape))
        elif isinstance(step, Fail):
            failed = getattr(step.signal, "result", None)
            if isinstance(failed, GuardedResult):
                chunks.append(self.marker("final", failed.to_dict(), shape))
        return [chunk for chunk in chunks if chunk is not None]

    def marker(self, kind: str, payload: Mapping[str, Any], shape: Any) -> Any:
        """A marker chunk (``None`` when this stream type cannot carry one)."""
        if self.marker_factory is not None:
            return self.marker_factory(kind, payload)
        return default_marker(kind, payload, shape)

    def _restart(self, payload: dict[str, Any], shape: Any, shown: int) -> Any:
        marker = self.marker("restart", {**payload, "discard_chunks": shown}, shape)
        if marker is None:
            _logger.warning(
                "guardrail: %d streamed chunks were retracted (%s) but non-message chunks "
                "(%s) carry no restart marker; use streaming='hold_back' or marker_factory=",
                shown,
                payload,
                type(shape).__name__,
            )
        return marker
