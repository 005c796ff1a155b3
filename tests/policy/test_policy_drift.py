"""The ``calibration_drift`` condition: parsing, evaluation on a reading, engine decisions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import Condition, Policy, PolicyEngine, RunContext
from guardrail.policy.conditions import Facts, evaluate
from guardrail.policy.drift import CalibrationDrift
from guardrail.policy.explain import describe_condition
from guardrail.reliability import CalibrationReading, calibration_summary

POLICY = """
name: drift-watch
rules:
  - name: drifted
    when: {stage: outcome, calibration_drift: {margin: 0.02, min_items: 40}}
    action: {type: human_review, mode: provisional}
default_action: {type: continue}
"""


def outcome() -> CheckpointEvent:
    return CheckpointEvent(1, Stage.OUTCOME, "outcome", 20, 0, 10, 0.8, 0.8)


def reading(n: int = 200, shift: float = 0.0, seed: int = 0) -> CalibrationReading:
    """Live confidences against verdicts drawn right with probability ``confidence - shift``."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.3, 1.0, size=n)
    correct = rng.uniform(size=n) < conf - shift
    return CalibrationReading(calibration_summary(conf, correct), window=n, generator="m")


def check(when: dict[str, Any], calibration: CalibrationReading | None) -> tuple[bool, str]:
    facts = Facts(outcome(), (), RunContext(model="m", calibration=calibration))
    verdict = evaluate(Condition.model_validate(when), facts)
    return verdict.holds, " ".join(verdict.reasons)


@pytest.mark.parametrize(
    ("value", "margin", "min_items"),
    [(0.05, 0.05, 30), (0, 0.0, 30), ({"margin": 0.1, "min_items": 50}, 0.1, 50), ({}, 0.0, 30)],
)
def test_parses_the_shorthand_and_the_mapping(value: Any, margin: float, min_items: int) -> None:
    condition = Condition.model_validate({"calibration_drift": value})
    assert condition.calibration_drift == CalibrationDrift(margin=margin, min_items=min_items)
    dumped = condition.model_dump()
    assert Condition.model_validate(dumped) == condition


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "needs a value"),
        ("high", "margin in"),
        (-0.1, "greater than or equal"),
        (1.5, "less than or equal"),
        ({"margin": 0.1, "min_item": 5}, "min_item"),
        ({"min_items": 1}, "greater than or equal to 2"),
        (True, "margin in"),
    ],
)
def test_bad_values_are_located_errors(value: Any, message: str) -> None:
    text = f"name: p\nrules:\n  - when: {{calibration_drift: {_yaml(value)}}}\n"
    text += "    action: {type: flag}\n"
    with pytest.raises(GuardrailConfigError, match=message) as caught:
        Policy.from_text(text)
    assert "calibration_drift" in str(caught.value)


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def test_a_calibrated_scorer_stays_within_its_noise() -> None:
    calibrated = reading(shift=0.0)
    assert calibrated.summary.within_noise
    holds, reason = check({"calibration_drift": 0}, calibrated)
    assert not holds
    assert "not more than the margin 0" in reason


def test_an_over_confident_scorer_drifts() -> None:
    drifted = reading(shift=0.25)
    assert drifted.excess > 0.05
    holds, reason = check({"calibration_drift": 0.05}, drifted)
    assert holds
    assert "over the last 200 decided review item(s)" in reason
    assert "more than the margin 0.05" in reason
    assert not check({"calibration_drift": round(drifted.excess + 0.01, 3)}, drifted)[0]


def test_unknown_or_thin_readings_do_not_hold() -> None:
    holds, reason = check({"calibration_drift": 0}, None)
    assert not holds
    assert "unknown" in reason
    holds, reason = check({"calibration_drift": {"min_items": 300}}, reading(shift=0.3))
    assert not holds
    assert "200 decided review item(s) only (calibration_drift needs 300)" in reason
    assert check({"not": {"calibration_drift": 0}}, None)[0]


def test_the_engine_routes_to_review_on_drift_and_audits_the_reading() -> None:
    engine = PolicyEngine(Policy.from_text(POLICY))
    drifted = engine.evaluate(outcome(), RunContext(model="m", calibration=reading(shift=0.25)))
    assert drifted.action.type == "human_review"
    assert drifted.rule == "drifted"
    calm = engine.evaluate(outcome(), RunContext(model="m", calibration=reading(shift=0.0)))
    assert calm.action.type == "continue"
    assert engine.evaluate(outcome(), RunContext(model="m")).action.type == "continue"
    audited = drifted.context.to_dict()["calibration"]
    assert audited["n"] == 200
    assert audited["within_noise"] is False
    assert "calibration" not in RunContext().to_dict()


def test_explain_names_the_condition() -> None:
    text = describe_condition(Condition.model_validate({"calibration_drift": 0.03}))
    assert "live calibration error" in text
    assert "more than 0.03 beyond its noise band" in text


def test_reading_to_dict_has_no_nan() -> None:
    empty = CalibrationReading(calibration_summary([], []), window=50)
    data = empty.to_dict()
    assert data["ece"] is None
    assert data["window"] == 50
    assert not any(isinstance(v, float) and math.isnan(v) for v in data.values())
