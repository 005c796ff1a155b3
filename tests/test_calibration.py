"""The artifact's Platt map: monotone, serialisable, fitted on soft Monte Carlo targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.calibration import PlattMap, fit_platt_soft, logit
from guardrail.errors import GuardrailConfigError

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(
    coef=st.floats(min_value=0.0, max_value=20.0),
    intercept=st.floats(min_value=-10.0, max_value=10.0),
    a=unit,
    b=unit,
)
def test_map_never_reverses_a_ranking(coef: float, intercept: float, a: float, b: float) -> None:
    mapping = PlattMap(coef, intercept)
    low, high = sorted((a, b))
    mapped_low, mapped_high = mapping.apply([low, high])
    assert 0.0 <= mapped_low <= mapped_high <= 1.0


@given(st.floats(min_value=1e-4, max_value=1.0 - 1e-4))
def test_unit_slope_without_intercept_is_the_identity(p: float) -> None:
    assert PlattMap(1.0, 0.0).apply([p])[0] == pytest.approx(p, abs=1e-9)


@given(coef=st.floats(min_value=0.0, max_value=20.0), intercept=st.floats(-10.0, 10.0))
def test_round_trip_through_json_form(coef: float, intercept: float) -> None:
    mapping = PlattMap(coef, intercept)
    assert PlattMap.from_dict(mapping.to_dict()) == mapping


def test_fit_recovers_a_known_map_from_soft_targets() -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.01, 0.99, size=400)
    truth = PlattMap(coef=0.6, intercept=-0.8)
    fitted = fit_platt_soft(scores, truth.apply(scores))
    assert fitted.coef == pytest.approx(0.6, abs=1e-3)
    assert fitted.intercept == pytest.approx(-0.8, abs=1e-3)


def test_fit_lowers_the_brier_score_of_an_overconfident_scorer() -> None:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.05, 0.95, size=300)
    overconfident = 1.0 / (1.0 + np.exp(-3.0 * logit(truth)))
    fitted = fit_platt_soft(overconfident, truth)
    before = float(np.mean((overconfident - truth) ** 2))
    after = float(np.mean((fitted.apply(overconfident) - truth) ** 2))
    assert after < before / 10


def test_a_reversed_relation_gives_the_constant_mean_map() -> None:
    scores = np.linspace(0.1, 0.9, 20)
    targets = 1.0 - scores
    fitted = fit_platt_soft(scores, targets)
    assert fitted.coef == 0.0
    assert fitted.apply([0.2, 0.8]) == pytest.approx([targets.mean()] * 2)


@pytest.mark.parametrize(
    ("scores", "targets", "message"),
    [
        ([0.1, 0.2], [0.5], "differ in length"),
        ([0.1, 1.2], [0.0, 1.0], "scores must be"),
        ([0.1, 0.2], [0.0, math.nan], "targets must be"),
        ([0.1, 0.2], [0.3, 0.3], "different targets"),
        ([0.1], [1.0], "at least 2"),
    ],
)
def test_fit_rejects_bad_input(scores: list[float], targets: list[float], message: str) -> None:
    with pytest.raises(GuardrailConfigError, match=message):
        fit_platt_soft(scores, targets)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "isotonic", "coef": 1, "intercept": 0}, r"x\.kind: unsupported"),
        ({"kind": "platt", "coef": "1", "intercept": 0}, r"x\.coef: expected a number"),
        ({"kind": "platt", "coef": 1.0}, r"x\.intercept: expected a number"),
        ({"kind": "platt", "coef": -1.0, "intercept": 0.0}, "reverses the ranking"),
        ({"kind": "platt", "coef": math.inf, "intercept": 0.0}, "finite"),
        ([1, 2], "expected an object"),
    ],
)
def test_malformed_maps_are_named(data: object, message: str) -> None:
    with pytest.raises(GuardrailConfigError, match=message):
        PlattMap.from_dict(data, where="x")  # type: ignore[arg-type]


def test_out_of_range_input_is_refused() -> None:
    with pytest.raises(GuardrailConfigError, match="in \\[0, 1\\]"):
        PlattMap(1.0, 0.0).apply([1.5])


@given(
    coef=st.floats(min_value=0.05, max_value=20.0),
    intercept=st.floats(-5.0, 5.0),
    p=st.floats(min_value=1e-3, max_value=1.0 - 1e-3),
)
def test_invert_undoes_apply(coef: float, intercept: float, p: float) -> None:
    mapping = PlattMap(coef, intercept)
    mapped = float(mapping.apply([p])[0])
    if 1e-6 < mapped < 1.0 - 1e-6:  # inside the clipped range the map is a bijection
        assert mapping.invert(mapped) == pytest.approx(p, rel=1e-4, abs=1e-6)


def test_constant_map_is_not_invertible() -> None:
    with pytest.raises(GuardrailConfigError, match="cannot be inverted"):
        PlattMap(0.0, 0.3).invert(0.5)


@given(
    pooled=st.tuples(st.floats(0.1, 5.0), st.floats(-3.0, 3.0)),
    own=st.tuples(st.floats(0.1, 5.0), st.floats(-3.0, 3.0)),
    raw=st.floats(min_value=0.01, max_value=0.99),
)
def test_restage_swaps_the_pooled_map_for_the_stage_map(
    pooled: tuple[float, float], own: tuple[float, float], raw: float
) -> None:
    from guardrail.calibration import StageCalibration

    pooled_map, own_map = PlattMap(*pooled), PlattMap(*own)
    staged = StageCalibration(pooled_map, {"question": own_map})
    written = float(pooled_map.apply([raw])[0])
    if not 1e-5 < written < 1.0 - 1e-5:
        return
    expected = float(own_map.apply([raw])[0])
    assert staged.restage(written, "question") == pytest.approx(expected, abs=1e-4)
    assert staged.restage(written, "outcome") == written  # no map of its own: unchanged


def test_restage_keeps_rankings_within_a_stage() -> None:
    from guardrail.calibration import StageCalibration

    staged = StageCalibration(PlattMap(0.5, -0.9), {"process": PlattMap(1.3, 0.4)})
    values = [0.05, 0.2, 0.21, 0.5, 0.9]
    moved = [staged.restage(v, "process") for v in values]
    assert moved == sorted(moved)


def test_stage_maps_parse_with_named_errors() -> None:
    from guardrail.calibration import StageCalibration

    good = {"outcome": {"kind": "platt", "coef": 1.0, "intercept": 0.0}}
    parsed = StageCalibration.from_dict(None, good, where="finece.json: calibration_by_stage")
    assert parsed.to_dict() == good
    with pytest.raises(GuardrailConfigError, match=r"calibration_by_stage.*unknown stage"):
        StageCalibration.from_dict(
            None, {"final": good["outcome"]}, where="finece.json: calibration_by_stage"
        )
    with pytest.raises(GuardrailConfigError, match=r"calibration_by_stage\.process\.coef"):
        StageCalibration.from_dict(
            None,
            {"process": {"kind": "platt", "coef": "x", "intercept": 0}},
            where="finece.json: calibration_by_stage",
        )
