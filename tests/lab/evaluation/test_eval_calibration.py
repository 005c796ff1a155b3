"""Platt and isotonic maps: fitted on dev, applied to test, degenerate splits refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.calibration import (
    IsotonicMap,
    PlattMap,
    fit_calibration,
    fit_isotonic,
    fit_platt,
    unfit_reason,
)
from guardrail.lab.evaluation.metrics import auroc, ece


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores near 0.9 while the true accuracy is about 0.6 (and rises with the score)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.8, 1.0, size=n)
    correct = (rng.uniform(size=n) < (scores - 0.8) * 2.0 + 0.4).astype(int)
    return scores, correct


@pytest.mark.parametrize("kind", ["platt", "isotonic"])
def test_map_fitted_on_dev_lowers_test_ece(kind: str) -> None:
    dev_scores, dev_correct = _overconfident(400, 0)
    test_scores, test_correct = _overconfident(400, 1)
    mapping = fit_calibration(kind, dev_scores, dev_correct)
    assert mapping.kind == kind
    calibrated = mapping.apply(test_scores)
    assert calibrated.shape == test_scores.shape
    assert np.all((calibrated >= 0.0) & (calibrated <= 1.0))
    assert ece(calibrated, test_correct) < ece(test_scores, test_correct) / 2


def test_platt_is_monotone_and_keeps_auroc() -> None:
    scores, correct = _overconfident(300, 2)
    mapping = fit_platt(scores, correct)
    assert isinstance(mapping, PlattMap)
    assert mapping.coef > 0
    mapped = mapping.apply(scores)
    assert auroc(mapped, correct) == pytest.approx(auroc(scores, correct))


def test_platt_handles_scores_at_zero_and_one() -> None:
    mapping = fit_platt([0.0, 0.0, 1.0, 1.0, 0.5], [0, 0, 1, 1, 1])
    values = mapping.apply([0.0, 1.0])
    assert np.all(np.isfinite(values))
    assert values[0] < values[1]


def test_isotonic_is_constant_outside_the_fitted_range() -> None:
    mapping = fit_isotonic([0.4, 0.5, 0.6, 0.7], [0, 0, 1, 1])
    assert isinstance(mapping, IsotonicMap)
    assert list(mapping.apply([0.0, 1.0])) == [0.0, 1.0]


@pytest.mark.parametrize(
    ("scores", "correct", "message"),
    [
        ([0.5], [1], "at least 2"),
        ([0.5, 0.7, 0.9], [1, 1, 1], "every dev answer is correct"),
        ([0.5, 0.7], [0, 0], "every dev answer is wrong"),
    ],
)
def test_degenerate_dev_split_has_a_reason_and_refuses_to_fit(
    scores: list[float], correct: list[int], message: str
) -> None:
    assert message in (unfit_reason(scores, correct) or "")
    for kind in ("platt", "isotonic"):
        with pytest.raises(GuardrailConfigError, match=message):
            fit_calibration(kind, scores, correct)


def test_unknown_kind_lists_valid_ones() -> None:
    with pytest.raises(GuardrailConfigError, match="platt, isotonic"):
        fit_calibration("beta", [0.1, 0.9], [0, 1])


def test_apply_rejects_scores_outside_unit_interval() -> None:
    mapping = fit_isotonic([0.1, 0.9], [0, 1])
    with pytest.raises(GuardrailConfigError):
        mapping.apply([1.5])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(0, 1)),
        min_size=2,
        max_size=30,
    ).filter(lambda rows: len({y for _, y in rows}) == 2)
)
def test_maps_are_monotone_and_in_unit_interval(rows: list[tuple[int, int]]) -> None:
    scores = [k / 100 for k, _ in rows]
    correct = [y for _, y in rows]
    grid = np.linspace(0.0, 1.0, 21)
    for kind in ("platt", "isotonic"):
        values = fit_calibration(kind, scores, correct).apply(grid)
        assert np.all((values >= 0.0) & (values <= 1.0))
        assert np.all(np.diff(values) >= -1e-12)


def test_platt_never_reverses_the_ranking() -> None:
    """Scores that rank errors first get the flat dev base rate, not a decreasing map."""
    mapping = fit_platt([0.1, 0.2, 0.8, 0.9], [1, 1, 1, 0])
    assert mapping.coef == 0.0
    assert mapping.apply([0.0, 0.5, 1.0]) == pytest.approx([0.75, 0.75, 0.75])
