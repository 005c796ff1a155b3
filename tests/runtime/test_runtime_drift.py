"""The calibration drift monitor on a real SQLite review store, and the guard that uses it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import Policy, RunContext
from guardrail.review import ReviewStoreError, SQLiteReviewQueue
from guardrail.runtime import GuardConfig
from guardrail.runtime.drift import (
    DRIFT_LOGGER_NAME,
    CalibrationDriftMonitor,
    live_outcomes,
    uses_calibration_drift,
)
from guardrail.runtime.review import MemoryReviewSink
from guardrail.testing import ScriptedScorer
from guardrail.testing.reviews import Decided, add_decided, calibrated_verdicts

EMBEDDED = "builtin:smollm2-135m-instruct"
POLICY = """
name: drift-watch
rules:
  - name: drifted
    when: {stage: outcome, calibration_drift: {margin: 0.0, min_items: 40}}
    action: {type: human_review, mode: provisional}
default_action: {type: continue}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fill(store: SQLiteReviewQueue, n: int, *, shift: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    add_decided(
        store, calibrated_verdicts(rng.uniform(0.3, 1.0, n), rng.uniform(size=n), shift=shift)
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteReviewQueue:
    return open_store(tmp_path / "review.db")


def open_store(path: Path) -> SQLiteReviewQueue:
    """A real SQLite store (synchronous=NORMAL: a test survives no power loss, and is quick)."""
    return SQLiteReviewQueue(path, synchronous="NORMAL")


def test_no_decided_item_gives_no_reading(store: SQLiteReviewQueue) -> None:
    monitor = CalibrationDriftMonitor(store)
    assert monitor.reading() is None
    assert monitor.last_error is None


def test_reads_the_last_window_of_one_generator(store: SQLiteReviewQueue) -> None:
    add_decided(store, [Decided(0.9, "reject", model="gpt-4o-mini")] * 5)
    fill(store, 60, shift=0.0)
    add_decided(store, [Decided(0.2, "approve", partial=True), Decided(None, "approve")])
    monitor = CalibrationDriftMonitor(store, generator="smollm2-135m-instruct", window=50)
    reading = monitor.reading()
    assert reading is not None
    assert reading.items == 50  # other model, partial answer and no confidence left out
    assert reading.generator == "smollm2-135m-instruct"
    conf, right = live_outcomes(store.list(), generator=EMBEDDED, last=50)
    assert reading.summary.mean_confidence == pytest.approx(float(np.mean(conf)))
    assert reading.summary.accuracy == pytest.approx(float(np.mean(right)))
    every = CalibrationDriftMonitor(store, window=1000).reading()
    assert every is not None
    assert every.items == 65


def test_a_calibrated_guard_is_within_noise_an_over_confident_one_is_not(
    tmp_path: Path,
) -> None:
    calm, drifted = open_store(tmp_path / "a.db"), open_store(tmp_path / "b.db")
    fill(calm, 60, shift=0.0)
    fill(drifted, 60, shift=0.35)
    calm_reading = CalibrationDriftMonitor(calm).reading()
    drifted_reading = CalibrationDriftMonitor(drifted).reading()
    assert calm_reading is not None
    assert drifted_reading is not None
    assert calm_reading.summary.within_noise is True
    assert drifted_reading.summary.within_noise is False
    assert drifted_reading.summary.confidence_gap > 0.2


def test_readings_are_cached_and_rate_limited(store: SQLiteReviewQueue) -> None:
    clock = Clock()
    fill(store, 20, shift=0.0)
    monitor = CalibrationDriftMonitor(store, refresh_s=30.0, clock=clock)
    first = monitor.reading()
    assert first is not None
    fill(store, 20, shift=0.0, seed=1)
    clock.now = 29.0
    assert monitor.reading() is first
    assert monitor.refreshes == 1
    clock.now = 30.0
    second = monitor.reading()
    assert second is not None
    assert second.items == 40
    assert monitor.refreshes == 2


def test_drift_is_announced_on_the_way_out_and_back(
    store: SQLiteReviewQueue, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[Any] = []
    monitor = CalibrationDriftMonitor(store, window=40, refresh_s=0.0, on_drift=heard.append)
    fill(store, 40, shift=0.35)
    with caplog.at_level(logging.INFO, logger=DRIFT_LOGGER_NAME):
        out = monitor.reading()
        monitor.reading()  # still outside: no second event
        fill(store, 40, shift=0.0, seed=5)
        back = monitor.reading()
    assert out is not None
    assert back is not None
    assert heard == [out, back]
    records = [r for r in caplog.records if r.name == DRIFT_LOGGER_NAME]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO]
    assert "outside its noise band" in records[0].getMessage()
    assert getattr(records[0], "calibration_drift")["within_noise"] is False  # noqa: B009


class BrokenStore:
    def __init__(self, inner: SQLiteReviewQueue) -> None:
        self.inner = inner
        self.broken = False

    def list(self, **filters: Any) -> list[Any]:
        if self.broken:
            raise ReviewStoreError("database is locked", retryable=True)
        return self.inner.list(**filters)


def test_an_unreadable_store_keeps_the_last_reading(
    store: SQLiteReviewQueue, caplog: pytest.LogCaptureFixture
) -> None:
    fill(store, 10, shift=0.0)
    broken = BrokenStore(store)
    monitor = CalibrationDriftMonitor(broken, refresh_s=0.0)
    first = monitor.reading()
    broken.broken = True
    with caplog.at_level(logging.WARNING, logger=DRIFT_LOGGER_NAME):
        assert monitor.reading() is first
    assert monitor.last_error is not None
    assert "database is locked" in monitor.last_error
    assert "reading" in caplog.text


def test_bad_settings_are_config_errors(store: SQLiteReviewQueue) -> None:
    with pytest.raises(GuardrailConfigError, match="window"):
        CalibrationDriftMonitor(store, window=1)
    with pytest.raises(GuardrailConfigError, match="no list"):
        CalibrationDriftMonitor(object())  # type: ignore[arg-type]


def test_the_policy_walk_finds_nested_conditions() -> None:
    assert uses_calibration_drift(Policy.from_text(POLICY))
    nested = POLICY.replace(
        "when: {stage: outcome, calibration_drift: {margin: 0.0, min_items: 40}}",
        "when: {any: [{not: {calibration_drift: 0.1}}, {stage: question}]}",
    )
    assert uses_calibration_drift(Policy.from_text(nested))
    assert not uses_calibration_drift(Policy.from_text(POLICY.split("rules:")[0] + "rules: []\n"))


def _outcome() -> CheckpointEvent:
    return CheckpointEvent(1, Stage.OUTCOME, "outcome", 20, 0, 10, 0.9, 0.9)


def test_the_guard_routes_to_review_once_the_live_calibration_drifts(
    store: SQLiteReviewQueue,
) -> None:
    config = GuardConfig(POLICY, ScriptedScorer([0.9]), review=store)
    assert config.drift is not None
    watch = config.watch("q", RunContext(model=EMBEDDED))
    assert watch.context.calibration is None  # nothing decided yet: unknown, rule does not hold
    assert config.engine.evaluate(_outcome(), watch.context).action.type == "continue"
    fill(store, 50, shift=0.35)
    config.drift.refresh()
    watch = config.watch("q", RunContext(model=EMBEDDED))
    assert watch.context.calibration is not None
    decision = config.engine.evaluate(_outcome(), watch.context)
    assert decision.action.type == "human_review"
    assert any("beyond its noise band" in reason for reason in decision.reasons)


def test_a_sink_without_a_queue_needs_its_own_monitor(store: SQLiteReviewQueue) -> None:
    with pytest.raises(GuardrailConfigError, match="calibration_drift"):
        GuardConfig(POLICY, ScriptedScorer([0.9]), review=MemoryReviewSink())
    monitor = CalibrationDriftMonitor(store)
    config = GuardConfig(POLICY, ScriptedScorer([0.9]), review=MemoryReviewSink(), drift=monitor)
    assert config.drift is monitor
