"""Session pools: the open streams of many answers on one batched, growing KV cache.

A :class:`SessionPool` holds every stream a :class:`~guardrail.scoring_worker.ScoringWorker`
scores for one scorer; streams join and leave while others are mid-answer, and one ``score``
call reads the confidences of any of them in one batched forward pass. A scorer that can pool
implements :class:`PoolingScorer`; the worker scores other scorers' sessions one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from guardrail.scorers.streams import StreamBatch, StreamScorer

__all__ = ["PoolingScorer", "SessionPool", "StreamPool"]


class SessionPool(Protocol):
    """Streams of many answers, scored together. Keys are the ints ``add`` returns."""

    def add(self, question: str) -> int:
        """Open a stream for ``question``; return its key."""
        ...

    def append(self, key: int, text: str) -> None:
        """Add streamed answer text to stream ``key`` (no model call)."""
        ...

    def score(self, keys: Sequence[int]) -> list[float]:
        """The confidence of each stream in ``keys`` (question plus its text), in one pass."""
        ...

    def entropy(self, key: int) -> float | None:
        """The scorer LM's next-token entropy after stream ``key``'s text."""
        ...

    def truncated(self, key: int) -> int:
        """Tokens stream ``key``'s last score left out to stay within the input bound."""
        ...

    def remove(self, key: int) -> None:
        """Close stream ``key``."""
        ...


@runtime_checkable
class PoolingScorer(Protocol):
    """A scorer whose concurrent streams can share one batched pass."""

    def open_pool(self) -> SessionPool:
        """A new, empty pool."""
        ...


class StreamPool:
    """A :class:`SessionPool` on one :class:`~guardrail.scorers.streams.StreamBatch`.

    A stream that joins is prefilled alone and left-padded into the batch; one that leaves is
    dropped from it (and columns no stream uses any more are dropped too). When the last stream
    leaves, the batch is released, so a long-lived pool does not keep growing.
    """

    def __init__(self, scorer: StreamScorer) -> None:
        self._scorer = scorer
        self._batch: StreamBatch | None = None
        self._rows: dict[int, int] = {}
        self._next_key = 0

    @property
    def size(self) -> int:
        """Open streams."""
        return len(self._rows)

    def add(self, question: str) -> int:
        """Open a stream for ``question``; return its key."""
        from guardrail.scorers.streams import StreamBatch

        if self._batch is None:
            self._batch = StreamBatch(self._scorer, [question])
            row = 0
        else:
            row = self._batch.add(question)
        key = self._next_key
        self._next_key += 1
        self._rows[key] = row
        return key

    def append(self, key: int, text: str) -> None:
        """Add streamed text to stream ``key``."""
        self._open_batch().append(self._rows[key], text)

    def score(self, keys: Sequence[int]) -> list[float]:
        """The streams of ``keys`` scored in one forward pass (the others do not take part)."""
        return self._open_batch().score_rows([self._rows[key] for key in keys])

    def entropy(self, key: int) -> float | None:
        """The next-token entropy after stream ``key``'s text."""
        return self._open_batch().entropy()[self._rows[key]]

    def truncated(self, key: int) -> int:
        """Tokens stream ``key``'s last score left out to stay within ``max_input_tokens``."""
        return self._open_batch().truncated(self._rows[key])

    def remove(self, key: int) -> None:
        """Close stream ``key``; unknown keys are ignored."""
        row = self._rows.pop(key, None)
        if row is None or self._batch is None:
            return
        if not self._rows:
            self._batch.close()
            self._batch = None
            return
        self._batch.remove(row)
        for other, other_row in self._rows.items():
            if other_row > row:
                self._rows[other] = other_row - 1

    def _open_batch(self) -> StreamBatch:
        if self._batch is None:
            raise KeyError("no stream is open in this pool")
        return self._batch
