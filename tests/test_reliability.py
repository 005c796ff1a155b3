"""The calibration error beside its noise floor: hand values, seeding and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.reliability import (
    brier,
    calibrated_ece_draws,
    calibration_summary,
    ece,
    reliability_bins,
)


def _samples(min_size: int = 1) -> st.SearchStrategy[tuple[list[float], list[int]]]:
    return st.integers(min_size, 60).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1000).map(lambda k: k / 1000), min_size=n, max_size=n),
            st.lists(st.integers(0, 1), min_size=n, max_size=n),
        )
    )


def test_summary_by_hand() -> None:
    conf, correct = [0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0]
    summary = calibration_summary(conf, correct, n_sim=200)
    assert summary.n == 4
    assert summary.accuracy == 0.25
    assert summary.confidence_gap == pytest.approx(0.55 - 0.25)
    assert summary.brier == pytest.approx((0.01 + 0.81 + 0.04 + 0.04) / 4)
    # bins: {0.9: acc 0.5} and {0.2: acc 0}: (0.4 + 0.2) / 2
    assert summary.ece == pytest.approx(0.3)
    assert summary.above_noise == pytest.approx(summary.ece - summary.noise_floor)
    assert set(summary.to_dict()) >= {"ece", "noise_floor", "within_noise", "above_noise"}


def test_certain_confidences_have_no_noise() -> None:
    """Confidences of 0 and 1 leave nothing to chance: the floor is 0, any error is real."""
    summary = calibration_summary([1.0, 1.0, 0.0], [1, 0, 0], n_sim=50)
    assert summary.noise_floor == 0.0
    assert summary.noise_q95 == 0.0
    assert summary.ece == pytest.approx(1 / 3)
    assert summary.within_noise is False
    assert summary.noise_p == 0.0
    assert calibration_summary([1.0, 0.0], [1, 0], n_sim=50).within_noise is True


def test_draws_are_seeded() -> None:
    conf = np.linspace(0.05, 0.95, 40)
    first = calibrated_ece_draws(conf, n_sim=100, seed=3)
    assert np.array_equal(first, calibrated_ece_draws(conf, n_sim=100, seed=3))
    assert not np.array_equal(first, calibrated_ece_draws(conf, n_sim=100, seed=4))
    assert calibrated_ece_draws([], n_sim=5).size == 0


def test_the_floor_shrinks_with_more_answers() -> None:
    """A calibrated scorer's ECE is sampling noise: about 1/sqrt(n) (the issue's 80/200/500)."""
    rng = np.random.default_rng(0)
    floors = [calibrated_ece_draws(rng.uniform(size=n), n_sim=400).mean() for n in (80, 200, 500)]
    assert floors[0] > floors[1] > floors[2] > 0.0
    assert 0.10 < floors[0] < 0.17  # the issue: 0.136 on 80 answers


def test_calibrated_outcomes_are_within_noise_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    within = []
    for _ in range(200):
        conf = rng.uniform(size=80)
        correct = rng.uniform(size=80) < conf
        within.append(calibration_summary(conf, correct, n_sim=300).within_noise)
    share = sum(1 for w in within if w) / len(within)
    assert 0.88 <= share <= 0.99


def test_an_over_confident_scorer_is_out_of_noise() -> None:
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.0, 0.7, size=500)
    correct = rng.uniform(size=500) < truth
    summary = calibration_summary(truth + 0.3, correct)
    assert summary.within_noise is False
    assert summary.confidence_gap == pytest.approx(0.3, abs=0.05)
    assert summary.noise_p < 0.01


def test_no_answers_give_nan_and_unknown() -> None:
    summary = calibration_summary([], [])
    assert summary.n == 0
    assert math.isnan(summary.ece)
    assert math.isnan(summary.noise_floor)
    assert summary.within_noise is None


@pytest.mark.parametrize(
    ("conf", "correct", "message"),
    [([0.5], [1, 0], "differ in length"), ([1.5], [1], r"\[0, 1\]"), ([0.5], [3], "0/1")],
)
def test_invalid_input_is_a_config_error(
    conf: list[float], correct: list[int], message: str
) -> None:
    with pytest.raises(GuardrailConfigError, match=message):
        calibration_summary(conf, correct)
    with pytest.raises(GuardrailConfigError, match="n_sim"):
        calibrated_ece_draws([0.5], n_sim=0)


# ---------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(_samples())
def test_ece_bounds_the_signed_gap(data: tuple[list[float], list[int]]) -> None:
    """|mean confidence - accuracy| <= ECE <= 1: the gap is ECE without the absolute values."""
    conf, correct = data
    summary = calibration_summary(conf, correct, n_sim=50)
    assert abs(summary.confidence_gap) <= summary.ece + 1e-12
    assert 0.0 <= summary.ece <= 1.0
    assert 0.0 <= summary.brier <= 1.0
    assert summary.brier == pytest.approx(brier(conf, correct))


@settings(max_examples=60, deadline=None)
@given(_samples(), st.integers(0, 2**16))
def test_noise_summary_is_consistent(data: tuple[list[float], list[int]], seed: int) -> None:
    conf, correct = data
    summary = calibration_summary(conf, correct, n_sim=80, seed=seed)
    draws = calibrated_ece_draws(conf, n_sim=80, seed=seed)
    assert summary.noise_floor == pytest.approx(float(draws.mean()))
    assert 0.0 <= summary.noise_floor <= 1.0
    assert draws.min() - 1e-12 <= summary.noise_q95 <= draws.max() + 1e-12
    assert 0.0 <= summary.noise_p <= 1.0
    assert summary.within_noise == (summary.ece <= summary.noise_q95 + 1e-12)
    if summary.within_noise is False:
        assert summary.noise_p <= 0.05 + 1e-9


@settings(max_examples=40, deadline=None)
@given(_samples(), st.sampled_from([5, 10, 15]))
def test_ece_matches_the_reliability_bins(data: tuple[list[float], list[int]], n_bins: int) -> None:
    conf, correct = data
    bins = [b for b in reliability_bins(conf, correct, n_bins) if b["count"] > 0]
    by_bins = sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins) / len(conf)
    assert ece(conf, correct, n_bins) == pytest.approx(by_bins, abs=1e-12)
