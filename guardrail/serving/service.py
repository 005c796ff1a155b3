"""The scorer service's core, free of Ray: requests, per-stream sessions, batched scoring.

A request scores checkpoints given as texts (question, answer so far). Checkpoints of one
stream carry its id; the service keeps, per stream, an incremental scoring session (its KV
cache) in a :class:`StreamSlot`, and a checkpoint whose answer extends the slot's answer only
feeds the new text. Anything else (a new stream, a slot evicted from the LRU, a replica that
never saw the stream, an answer that was rewritten) opens a fresh session on the whole text:
a miss costs time, never correctness. Checkpoints without a stream are scored together in one
``score_batch`` call (one padded forward pass).
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guardrail.errors import GuardrailConfigError
from guardrail.scorers.base import Scorer, ScoringSession

__all__ = [
    "ScoreItem",
    "ScoreRequest",
    "ScorerService",
    "ScorerSpec",
    "SessionLRU",
    "StreamSlot",
]


class ScoreItem(BaseModel):
    """One checkpoint: the question, the answer so far, and its stream's id (if any)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(max_length=200_000)
    answer: str = Field(default="", max_length=2_000_000)
    stream: str | None = Field(default=None, max_length=128)


class ScoreRequest(BaseModel):
    """The body of ``POST /score``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["confidence", "entropy"] = "confidence"
    items: list[ScoreItem] = Field(min_length=1, max_length=1024)


class ScorerSpec(BaseModel):
    """What scorer a replica builds: a ``create_scorer`` reference or a factory ``module:attr``.

    ``factory`` names a zero-argument callable returning a scorer (for custom scorers and the
    tiny test scorer, ``guardrail.testing.tiny:tiny_scorer``); otherwise
    ``create_scorer(model, backend=backend, device=device)`` builds it.
    """

    model_config = ConfigDict(extra="forbid")

    model: str = "builtin:finece-smollm2"
    backend: str = "auto"
    device: str = "auto"
    factory: str | None = Field(default=None, pattern=r"^[\w.]+:[\w.]+$")

    def build(self) -> Scorer:
        """Build the scorer in this process."""
        if self.factory is not None:
            module, _, attr = self.factory.partition(":")
            try:
                target: Any = importlib.import_module(module)
                for part in attr.split("."):
                    target = getattr(target, part)
            except (ImportError, AttributeError) as exc:
                raise GuardrailConfigError(f"scorer factory {self.factory!r}: {exc}") from exc
            scorer = target()
            if not isinstance(scorer, Scorer):
                raise GuardrailConfigError(
                    f"scorer factory {self.factory!r} returned {type(scorer).__name__}, "
                    "not a Scorer"
                )
            return scorer
        from guardrail.scorers import create_scorer

        return create_scorer(self.model, backend=self.backend, device=self.device)

    @property
    def label(self) -> str:
        """What is served, for logs."""
        return self.factory or self.model


class StreamSlot:
    """One stream's incremental session on this replica (its KV cache), or none yet."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.question: str | None = None
        self.answer = ""
        self.session: ScoringSession | None = None
        self.hits = 0
        self.misses = 0

    def session_for(self, scorer: Scorer, question: str, answer: str) -> ScoringSession:
        """The session brought up to ``answer``: extended on a hit, reopened on a miss."""
        session = self.session
        if session is not None and question == self.question and answer.startswith(self.answer):
            self.hits += 1
            if len(answer) > len(self.answer):
                session.append(answer[len(self.answer) :])
        else:
            self.misses += 1
            self.release()
            session = scorer.open_session(question)
            if answer:
                session.append(answer)
            self.session, self.question = session, question
        self.answer = answer
        return session

    def release(self) -> None:
        """Drop the session (eviction)."""
        if self.session is not None:
            self.session.close()
        self.session, self.question, self.answer = None, None, ""

    def __del__(self) -> None:  # Ray Serve's multiplexed LRU calls it on eviction
        self.release()


class SessionLRU:
    """At most ``capacity`` stream slots, least recently used evicted first."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._slots: OrderedDict[str, StreamSlot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stream: str) -> StreamSlot:
        """The slot of ``stream`` (a new, empty one if it is not held)."""
        with self._lock:
            slot = self._slots.pop(stream, None) or StreamSlot(stream)
            self._slots[stream] = slot
            while len(self._slots) > self.capacity:
                _, evicted = self._slots.popitem(last=False)
                evicted.release()
            return slot

    def __len__(self) -> int:
        return len(self._slots)


class ScorerService:
    """Scores requests on one scorer; one model call at a time (a lock), batches in one go."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self._lock = threading.Lock()

    def run(self, request: ScoreRequest, slots: Sequence[StreamSlot | None]) -> list[float | None]:
        """Values for ``request.items``; ``slots[i]`` is item i's stream slot (or ``None``)."""
        return self.run_many([(request, slots)])[0]

    def run_many(
        self, jobs: Sequence[tuple[ScoreRequest, Sequence[StreamSlot | None]]]
    ) -> list[list[float | None]]:
        """Several requests at once: stream-less confidences share one ``score_batch``."""
        with self._lock:
            results: list[list[float | None]] = [[None] * len(r.items) for r, _ in jobs]
            batch: list[tuple[int, int]] = []
            for j, (request, slots) in enumerate(jobs):
                for i, (item, slot) in enumerate(zip(request.items, slots, strict=True)):
                    if request.kind == "confidence" and slot is None:
                        batch.append((j, i))
                    else:
                        results[j][i] = self._one(request.kind, item, slot)
            if batch:
                pairs = [
                    (jobs[j][0].items[i].question, jobs[j][0].items[i].answer) for j, i in batch
                ]
                for (j, i), value in zip(batch, self.scorer.score_batch(pairs), strict=True):
                    results[j][i] = float(value)
            return results

    def _one(self, kind: str, item: ScoreItem, slot: StreamSlot | None) -> float | None:
        if slot is None:
            session = self.scorer.open_session(item.question)
            try:
                if item.answer:
                    session.append(item.answer)
                return session.entropy()
            finally:
                session.close()
        session = slot.session_for(self.scorer, item.question, item.answer)
        if kind == "entropy":
            return session.entropy()
        return float(session.score())
