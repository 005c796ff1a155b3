"""Streaming a guarded answer to the caller: pass-through or hold-back, and in-band markers.

The attempts, the release of chunks and the markers are the runtime's
(:class:`~guardrail.runtime.gate.StreamGate`, :class:`~guardrail.runtime.chunks.ChunkGate`);
this module gives them LangChain's shape.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, BaseMessageChunk

from guardrail.runtime import ChunkGate, MarkerKind, StreamingMode

__all__ = [
    "ChunkGate",
    "MarkerFactory",
    "MessageFrames",
    "OutputShape",
    "StreamingMode",
    "chunk_from_text",
    "default_marker",
]

_logger = logging.getLogger(__name__)

MarkerFactory = Callable[[str, Mapping[str, object]], object]
"""``(kind, payload) -> chunk``; ``kind`` is ``"restart"`` or ``"final"``."""


def default_marker(kind: str, payload: Mapping[str, object], sample: object) -> object:
    """A marker chunk shaped like ``sample`` (message chunks only; else ``None``)."""
    if isinstance(sample, BaseMessageChunk | BaseMessage) or sample is AIMessageChunk:
        return AIMessageChunk(
            content="", response_metadata={"guardrail": {"marker": kind, **payload}}
        )
    return None


def chunk_from_text(text: str, sample: object) -> object:
    """``text`` as one chunk shaped like ``sample`` (a message chunk, else the string)."""
    if isinstance(sample, BaseMessageChunk | AIMessage) or sample is AIMessageChunk:
        return AIMessageChunk(content=text)
    return text


@dataclass(slots=True)
class OutputShape:
    """What the call's outputs look like: messages or not, and a sample streamed chunk."""

    message: bool = False
    sample: object = None  # a chunk (or chunk class) that markers and replacement chunks imitate

    def from_text(self, text: str) -> object:
        """``text`` as an output of this shape (an ``AIMessage`` for chat outputs)."""
        return AIMessage(content=text) if self.message else text

    def saw(self, chunk: object) -> None:
        """Remember the first streamed chunk as the sample."""
        if self.sample is None:
            self.sample = chunk


class MessageFrames:
    """The gate's markers and replacement chunks in the shape of the stream's chunks."""

    def __init__(self, shape: OutputShape, marker_factory: MarkerFactory | None = None) -> None:
        self.shape = shape
        self.marker_factory = marker_factory

    def marker(
        self, kind: MarkerKind, payload: Mapping[str, object], *, failed: bool = False
    ) -> object:
        """A marker chunk (``None`` when this stream type cannot carry one: logged)."""
        if self.marker_factory is not None:
            return self.marker_factory(kind, payload)
        marker = default_marker(kind, payload, self.shape.sample)
        if marker is None and kind == "restart":
            _logger.warning(
                "guardrail: %d streamed chunks were retracted (%s) but non-message chunks "
                "(%s) carry no restart marker; use streaming='hold_back' or marker_factory=",
                payload.get("discard_chunks", 0),
                {k: v for k, v in payload.items() if k != "discard_chunks"},
                type(self.shape.sample).__name__,
            )
        return marker

    def text(self, text: str) -> object:
        """``text`` as one chunk of the stream."""
        return chunk_from_text(text, self.shape.sample)
