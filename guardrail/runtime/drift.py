"""The live calibration of the guard, read from the reviewers' verdicts (``calibration_drift``).

:class:`CalibrationDriftMonitor` reads the last ``window`` decided review items of a generator
from a review store, compares their live confidences with the verdicts (approve: right; edit or
reject: wrong) and summarises them with :func:`guardrail.reliability.calibration_summary`: the
calibration error beside its noise floor. The runtime puts the resulting
:class:`~guardrail.reliability.CalibrationReading` into each answer's
:class:`~guardrail.policy.RunContext` (``calibration``), where a policy's ``calibration_drift``
condition reads it; the policy engine stays a pure function of its inputs.

The monitor is cheap on the hot path: a reading is cached and recomputed at most once per
``refresh_s`` (one thread refreshes, the others keep the cached reading meanwhile). A store
that cannot be read leaves the last reading in place, logs a warning and keeps the error in
:attr:`CalibrationDriftMonitor.last_error`; without any reading the condition is unknown and
does not hold. When a reading moves out of its noise band (or back into it), the monitor
logs a ``calibration_drift`` event on the ``guardrail.drift`` logger (the record's
``calibration_drift`` attribute holds the reading) and calls ``on_drift``.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from guardrail.errors import GuardrailConfigError, GuardrailError
from guardrail.policy import Condition, Policy
from guardrail.reliability import DEFAULT_BINS, CalibrationReading, calibration_summary
from guardrail.review.models import ReviewItem, ReviewStatus, Verdict
from guardrail.review.store import StatusFilter
from guardrail.runtime.review import QueueReviewSink
from guardrail.scorers.card import same_model

__all__ = [
    "DECIDED",
    "DRIFT_LOGGER_NAME",
    "CalibrationDriftMonitor",
    "DecidedItems",
    "SinkItems",
    "live_outcomes",
    "uses_calibration_drift",
]

DRIFT_LOGGER_NAME = "guardrail.drift"
_logger = logging.getLogger(DRIFT_LOGGER_NAME)

DECIDED = (ReviewStatus.APPROVED, ReviewStatus.EDITED, ReviewStatus.REJECTED)
"""The statuses of a decided review item."""


class DecidedItems(Protocol):
    """Where decided review items come from: a review store or queue (its ``list``)."""

    def list(
        self,
        *,
        status: StatusFilter = None,
        queue: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[ReviewItem]:
        """Items oldest first, filtered by status(es), queue and creation time."""
        ...


def live_outcomes(
    items: Iterable[ReviewItem], *, generator: str | None, last: int
) -> tuple[list[float], list[bool]]:
    """``(confidences, right)`` of the ``last`` most recently decided items of ``generator``.

    Only decided, finished (not partial) items with a live confidence count; ``generator``
    ``None`` takes every model. Right means approved.
    """
    rows: list[tuple[datetime, float, bool]] = []
    for item in items:
        decision, confidence = item.decision, item.confidence
        if decision is None or confidence is None or item.partial:
            continue
        if generator is not None and (item.model is None or not same_model(item.model, generator)):
            continue
        rows.append((decision.decided_at, float(confidence), decision.verdict is Verdict.APPROVE))
    rows.sort(key=lambda row: row[0])
    kept = rows[-last:]
    confidences = [confidence for _, confidence, _ in kept]
    right = [ok for _, _, ok in kept]
    return confidences, right


class CalibrationDriftMonitor:
    """The live calibration over the last ``window`` decided review items, cached.

    ``store`` is a review store or queue (anything with ``list``; see :class:`DecidedItems`).
    ``generator`` keeps one model's items (``None``: every model; compare with the guarded
    model's name as :func:`guardrail.scorers.card.same_model` does). ``queue`` keeps one review
    queue. A reading is recomputed at most every ``refresh_s`` seconds (``clock``: a monotonic
    clock in seconds). ``n_bins``, ``n_sim`` and ``seed`` are those of
    :func:`guardrail.reliability.calibration_summary`.
    """

    def __init__(
        self,
        store: DecidedItems,
        *,
        generator: str | None = None,
        window: int = 200,
        queue: str | None = None,
        refresh_s: float = 60.0,
        n_bins: int = DEFAULT_BINS,
        n_sim: int = 1000,
        seed: int = 0,
        on_drift: Callable[[CalibrationReading], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(getattr(store, "list", None)):
            raise GuardrailConfigError(f"{store!r} has no list() method; not a review store")
        if window < 2:
            raise GuardrailConfigError(f"window must be >= 2 decided items, got {window}")
        if refresh_s < 0:
            raise GuardrailConfigError(f"refresh_s must be >= 0, got {refresh_s}")
        self.store = store
        self.generator = generator
        self.window = window
        self.queue = queue
        self.refresh_s = refresh_s
        self._summary_options = {"n_bins": n_bins, "n_sim": n_sim, "seed": seed}
        self._on_drift = on_drift
        self._clock = clock
        self._lock = threading.Lock()
        self._reading: CalibrationReading | None = None
        self._read_at: float | None = None
        self._refreshing = False
        self._drifted: bool | None = None
        self.last_error: str | None = None
        self.refreshes = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.store!r}, generator={self.generator!r}, "
            f"window={self.window})"
        )

    def reading(self) -> CalibrationReading | None:
        """The cached reading, refreshed first when it is older than ``refresh_s``.

        ``None`` until a store read found a decided item with a confidence.
        """
        with self._lock:
            now = self._clock()
            due = self._read_at is None or now - self._read_at >= self.refresh_s
            if not due or self._refreshing:
                return self._reading
            self._refreshing = True
        try:
            return self.refresh()
        finally:
            with self._lock:
                self._refreshing = False

    def refresh(self) -> CalibrationReading | None:
        """Read the store now and return the new reading (the last one if the read failed)."""
        try:
            items = self.store.list(status=DECIDED, queue=self.queue)
            conf, right = live_outcomes(items, generator=self.generator, last=self.window)
            reading = (
                CalibrationReading(
                    calibration_summary(conf, right, **self._summary_options),
                    window=self.window,
                    generator=self.generator,
                    source=repr(self.store),
                )
                if conf
                else None
            )
        except (GuardrailError, OSError) as exc:
            with self._lock:
                self._read_at = self._clock()
                self.last_error = f"{type(exc).__name__}: {exc}"
            _logger.warning("calibration drift: reading %r failed: %s", self.store, exc)
            return self._reading
        with self._lock:
            self._reading = reading
            self._read_at = self._clock()
            self.last_error = None
            self.refreshes += 1
        self._announce(reading)
        return reading

    def _announce(self, reading: CalibrationReading | None) -> None:
        drifted = None if reading is None else reading.excess > 0.0
        if drifted is None or drifted == self._drifted:
            self._drifted = drifted if drifted is not None else self._drifted
            return
        self._drifted = drifted
        assert reading is not None
        level = logging.WARNING if drifted else logging.INFO
        state = "outside" if drifted else "back within"
        _logger.log(
            level,
            "calibration_drift: %s its noise band: %s",
            state,
            reading.describe(),
            extra={"calibration_drift": reading.to_dict()},
        )
        if self._on_drift is not None:
            self._on_drift(reading)


def uses_calibration_drift(policy: Policy) -> bool:
    """Whether any rule of ``policy`` has a ``calibration_drift`` condition (at any depth)."""
    pending: list[Condition] = [rule.when for rule in policy.rules]
    while pending:
        condition = pending.pop()
        if condition.calibration_drift is not None:
            return True
        pending.extend(condition.all_ or ())
        pending.extend(condition.any_ or ())
        if condition.not_ is not None:
            pending.append(condition.not_)
    return False


class SinkItems:
    """:class:`DecidedItems` of a queue-backed review sink, opened when first read."""

    def __init__(self, sink: QueueReviewSink) -> None:
        self.sink = sink

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sink!r})"

    def list(
        self,
        *,
        status: StatusFilter = None,
        queue: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[ReviewItem]:
        """The sink's queue's ``list``."""
        items: builtins.list[ReviewItem] = self.sink.queue.list(
            status=status, queue=queue, since=since, limit=limit
        )
        return items
