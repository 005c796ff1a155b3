"""Handing answers to human review, without depending on one queue's API.

The runtime talks to a :class:`ReviewSink`: ``submit(item) -> review id`` and, for blocking
reviews, ``wait(review_id, timeout_s) -> ReviewOutcome``. The item is a plain mapping with the
fields of :class:`guardrail.review.ReviewItem` (``question``, ``answer``, ``partial``,
``events``, ``confidence``, ``rule``, ``model``, ``run_id``, ``attempts``, ``metadata``,
``queue``, ``dedupe_key``). :class:`QueueReviewSink` adapts the project's review queue
(:class:`guardrail.review.ReviewQueue`, :class:`guardrail.review.SQLiteReviewQueue` or any
:class:`guardrail.review.ReviewStore`); :class:`MemoryReviewSink` keeps items in memory.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, runtime_checkable

from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError

if TYPE_CHECKING:
    from guardrail.events import CheckpointEvent
    from guardrail.policy import Decision
    from guardrail.runtime.records import AttemptRecord

__all__ = [
    "BlockingReviewSink",
    "DefaultReviewSink",
    "MemoryReviewSink",
    "QueueReviewSink",
    "ReviewAttemptPayload",
    "ReviewItemPayload",
    "ReviewOutcome",
    "ReviewSink",
    "ReviewWaitTimeout",
    "VerdictName",
    "as_review_sink",
    "review_request",
]

VerdictName = Literal["approve", "edit", "reject"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """A reviewer's verdict. ``answer`` is the released text (``None`` when rejected)."""

    review_id: str
    verdict: VerdictName
    answer: str | None
    reviewer: str | None = None
    note: str | None = None


class ReviewWaitTimeout(GuardrailRuntimeError, TimeoutError):
    """No reviewer decided within the time the guard was allowed to wait."""

    is_retryable = True


@runtime_checkable
class ReviewSink(Protocol):
    """Where the runtime hands answers for human review."""

    def submit(self, item: ReviewItemPayload) -> str:
        """Store (or announce) ``item``; return its review id. Idempotent on ``dedupe_key``."""
        ...


@runtime_checkable
class BlockingReviewSink(ReviewSink, Protocol):
    """A review sink that can also wait for the verdict (needed by ``mode: blocking``)."""

    def wait(self, review_id: str, timeout_s: float) -> ReviewOutcome:
        """Block until the item is decided; raise :class:`ReviewWaitTimeout` after ``timeout_s``."""
        ...


class QueueReviewSink:
    """:class:`ReviewSink` over the project's review queue (``enqueue`` / ``wait`` API).

    ``queue`` is a :class:`guardrail.review.ReviewQueue`, a
    :class:`guardrail.review.SQLiteReviewQueue` or any other
    :class:`guardrail.review.ReviewStore`. ``poll_s`` is how often ``wait`` polls the store.
    """

    def __init__(self, queue: Any, *, poll_s: float = 0.5) -> None:
        if not callable(getattr(queue, "enqueue", None)):
            raise GuardrailConfigError(f"{queue!r} has no enqueue() method; not a review queue")
        self.queue = queue
        self.poll_s = poll_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.queue!r})"

    def submit(self, item: Mapping[str, object]) -> str:
        """Build a :class:`guardrail.review.ReviewItem` from ``item`` and enqueue it.

        A notification failure after the item was committed (``ReviewNotifyError``) does not
        fail the call: the item is in the queue, so its id is returned and the failure logged.
        """
        from guardrail.review import ReviewItem, ReviewNotifyError

        fields = set(ReviewItem.model_fields) - {"id", "created_at", "status", "decision"}
        data = {key: value for key, value in item.items() if key in fields}
        dedupe_key = data.pop("dedupe_key", None)
        try:
            stored = self.queue.enqueue(
                ReviewItem.model_validate(data),
                dedupe_key=dedupe_key if isinstance(dedupe_key, str) else None,
            )
        except ReviewNotifyError as exc:
            logger.error(
                "review item %s committed; notifying about it failed: %s", exc.item_id, exc
            )
            return str(exc.item_id)
        return str(stored.id)

    def wait(self, review_id: str, timeout_s: float) -> ReviewOutcome:
        """Wait on the queue for the item's decision."""
        from guardrail.review import ReviewTimeoutError

        try:
            item = self.queue.wait(review_id, timeout_s, self.poll_s)
        except ReviewTimeoutError as exc:
            raise ReviewWaitTimeout(str(exc)) from exc
        decision = item.decision
        return ReviewOutcome(
            review_id=review_id,
            verdict=decision.verdict.value,
            answer=item.final_answer,
            reviewer=decision.reviewer,
            note=decision.note,
        )


class DefaultReviewSink(QueueReviewSink):
    """The project's durable review queue at its default path, opened on first use.

    The path is ``$GUARDRAIL_REVIEW_DB`` or the user cache (see
    :func:`guardrail.review.default_review_db_path`). When the variable is not set, opening it
    logs a WARNING naming the file and how to choose another (``GUARDRAIL_REVIEW_DB``, or
    ``review=`` / the proxy's ``review_db``): review items never land in the home folder
    silently.
    """

    def __init__(self, *, poll_s: float = 0.5) -> None:
        self.poll_s = poll_s
        self._queue: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def queue(self) -> Any:
        """The :class:`guardrail.review.ReviewQueue`, opened on first access."""
        with self._lock:
            if self._queue is None:
                from guardrail.review import ReviewQueue
                from guardrail.review.store import ENV_REVIEW_DB, default_review_db

                if not os.environ.get(ENV_REVIEW_DB, "").strip():
                    logger.warning(
                        "guardrail: human review items go to %s, the default review queue; "
                        "set %s (a file or a postgresql:// URL) or pass review= to keep them "
                        "elsewhere, e.g. in the project",
                        default_review_db(),
                        ENV_REVIEW_DB,
                    )
                self._queue = ReviewQueue()
            return self._queue


class MemoryReviewSink:
    """An in-process review sink: items are kept in :attr:`items`, decided with :meth:`decide`.

    ``auto`` may decide every submitted item at once (``item -> (verdict, edited answer)``),
    which makes blocking reviews usable in tests and demos.
    """

    def __init__(
        self, auto: Callable[[Mapping[str, object]], tuple[VerdictName, str | None]] | None = None
    ) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, ReviewOutcome] = {}
        self._auto = auto
        self._keys: dict[str, str] = {}
        self._cond = threading.Condition()

    def submit(self, item: Mapping[str, object]) -> str:
        """Keep ``item``; decide it at once when ``auto`` is set."""
        with self._cond:
            key = item.get("dedupe_key")
            if isinstance(key, str) and key in self._keys:
                return self._keys[key]
            review_id = uuid.uuid4().hex
            self.items[review_id] = dict(item)
            if isinstance(key, str):
                self._keys[key] = review_id
        if self._auto is not None:
            verdict, edited = self._auto(item)
            self.decide(review_id, verdict, edited_answer=edited, reviewer="auto")
        return review_id

    def decide(
        self,
        review_id: str,
        verdict: VerdictName,
        *,
        edited_answer: str | None = None,
        reviewer: str = "reviewer",
        note: str | None = None,
    ) -> ReviewOutcome:
        """Record a verdict and wake up waiters."""
        with self._cond:
            item = self.items[review_id]
            answer = {"approve": item.get("answer", ""), "edit": edited_answer, "reject": None}
            outcome = ReviewOutcome(review_id, verdict, answer[verdict], reviewer, note)
            self.outcomes[review_id] = outcome
            self._cond.notify_all()
        return outcome

    def wait(self, review_id: str, timeout_s: float) -> ReviewOutcome:
        """Block until :meth:`decide` ran for ``review_id``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while review_id not in self.outcomes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ReviewWaitTimeout(f"review {review_id!r} not decided in {timeout_s:g}s")
                self._cond.wait(remaining)
            return self.outcomes[review_id]


def as_review_sink(target: object) -> ReviewSink:
    """``target`` as a :class:`ReviewSink`: itself when it has ``submit``, else a queue adapter."""
    if isinstance(target, ReviewSink):
        return target
    if callable(getattr(target, "enqueue", None)):
        return QueueReviewSink(target)
    raise GuardrailConfigError(
        f"{target!r} is not a review sink: it needs submit(item) -> id, or enqueue(item)"
    )


class ReviewAttemptPayload(TypedDict):
    """An earlier attempt of the call, as a review item shows it to the reviewer."""

    attempt: int
    """The attempt's number (1 is the first)."""
    answer: str
    """The text it wrote (cut where the guard stopped it)."""
    confidence: float | None
    """Its last checkpoint's revised confidence (``None`` without checkpoints)."""
    model: str | None
    """The model that wrote it."""
    action: str | None
    """The action type that interrupted it (``None``: it ran to the end)."""
    rule: str | None
    """The policy rule that fired."""
    events: list[dict[str, Any]]
    """Its checkpoints (:meth:`~guardrail.events.CheckpointEvent.to_dict`)."""


class ReviewItemPayload(TypedDict):
    """The item a review sink receives (:meth:`ReviewSink.submit`): one answer to decide on."""

    queue: str
    """The review queue the policy's ``human_review`` action names."""
    question: str
    """What the model was asked."""
    answer: str
    """The answer held for review (the text up to the checkpoint when ``partial``)."""
    partial: bool
    """True when the guard cut the answer before its end."""
    events: list[dict[str, Any]]
    """The answer's checkpoints (:meth:`~guardrail.events.CheckpointEvent.to_dict`)."""
    confidence: float | None
    """The revised confidence that led to the review."""
    rule: str | None
    """The policy rule that asked for review."""
    model: str | None
    """The model that wrote the answer."""
    run_id: str | None
    """The guarded call's run id (its audit run)."""
    attempts: list[ReviewAttemptPayload]
    """The call's earlier attempts (retries, escalations) before this one."""
    metadata: dict[str, object]
    """The adapter's metadata (``source``: langchain, litellm...)."""
    dedupe_key: str | None
    """A repeated call with this key reuses its item instead of enqueueing another."""


def review_request(
    *,
    question: str,
    answer: str,
    partial: bool,
    decision: Decision | None,
    events: Sequence[CheckpointEvent],
    attempts: Sequence[AttemptRecord] = (),
    model: str | None = None,
    run_id: str | None = None,
    metadata: Mapping[str, object] | None = None,
    dedupe_key: str | None = None,
) -> ReviewItemPayload:
    """The review item for an answer held after ``decision``."""
    action = None if decision is None else decision.action
    confidence = None
    if decision is not None and decision.event is not None:
        confidence = decision.event.revised
    elif events:
        confidence = events[-1].revised
    return {
        "queue": str(getattr(action, "queue", "default")),
        "question": question,
        "answer": answer,
        "partial": partial,
        "events": [event.to_dict() for event in events],
        "confidence": confidence,
        "rule": None if decision is None else decision.rule,
        "model": model,
        "run_id": run_id,
        "attempts": [
            {
                "attempt": record.attempt,
                "answer": record.answer,
                "confidence": record.final_confidence,
                "model": record.model or None,
                "action": record.signal,
                "rule": record.rule,
                "events": [event.to_dict() for event in record.events],
            }
            for record in attempts
        ],
        "metadata": dict(metadata or {}),
        "dedupe_key": dedupe_key,
    }
