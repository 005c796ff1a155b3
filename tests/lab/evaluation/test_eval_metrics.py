"""Metrics: hand-computed tables, degenerate inputs, invalid inputs, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.metrics import (
    METRIC_NAMES,
    NOISE_NAMES,
    accuracy_at_coverage,
    auprc_errors,
    auroc,
    bootstrap,
    brier,
    ece,
    mce,
    metric_table,
    nll,
    prr,
    reliability_bins,
    undefined_reason,
)

CONF = [0.9, 0.8, 0.7, 0.3, 0.2, 0.6]
CORRECT = [1, 1, 0, 0, 1, 0]


# ------------------------------------------------------------------ hand tables
def test_ece_and_mce_by_hand() -> None:
    conf = [0.05, 0.05, 0.95, 0.95]
    correct = [0, 1, 1, 1]
    # two bins: |0.5 - 0.05| with weight 1/2, |1.0 - 0.95| with weight 1/2
    assert ece(conf, correct, 10) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)
    assert mce(conf, correct, 10) == pytest.approx(0.45)


def test_ece_bin_edges_put_one_in_the_last_bin() -> None:
    bins = reliability_bins([0.0, 1.0, 0.5], [0, 1, 1], n_bins=2)
    assert [b["count"] for b in bins] == [1.0, 2.0]
    assert bins[1]["confidence"] == pytest.approx(0.75)
    assert math.isnan(reliability_bins([0.1], [1], n_bins=3)[2]["accuracy"])


def test_fifteen_bins_differ_from_ten() -> None:
    conf = [0.62, 0.68]
    correct = [1, 0]
    # 10 bins: one bin (0.6-0.7) -> |0.5 - 0.65|; 15 bins: 0.62 -> [0.6, 0.667), 0.68 -> next
    assert ece(conf, correct, 10) == pytest.approx(0.15)
    assert ece(conf, correct, 15) == pytest.approx(0.5 * 0.38 + 0.5 * 0.68)


def test_brier_nll_auroc_against_definitions() -> None:
    c, y = np.array(CONF), np.array(CORRECT)
    assert brier(CONF, CORRECT) == pytest.approx(np.mean((c - y) ** 2))
    assert nll(CONF, CORRECT) == pytest.approx(-np.mean(y * np.log(c) + (1 - y) * np.log(1 - c)))
    pairs = [(a, b) for a in c[y == 1] for b in c[y == 0]]
    expected = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs])
    assert auroc(CONF, CORRECT) == pytest.approx(expected)


def test_auprc_treats_errors_as_positive() -> None:
    # errors have the lowest confidences: perfect retrieval of errors
    assert auprc_errors([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == pytest.approx(1.0)
    # errors have the highest confidences: the worst ranking
    assert auprc_errors([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) < 0.6


def test_accuracy_at_coverage_keeps_the_most_confident() -> None:
    assert accuracy_at_coverage(CONF, CORRECT, 0.5) == pytest.approx(2 / 3)  # 0.9, 0.8, 0.7
    assert accuracy_at_coverage(CONF, CORRECT, 1.0) == pytest.approx(0.5)
    assert accuracy_at_coverage(CONF, CORRECT, 0.01) == 1.0  # at least one answer
    # ties count as expected values, not by input order
    assert accuracy_at_coverage([0.5, 0.5], [1, 0], 0.5) == 0.5
    with pytest.raises(GuardrailConfigError):
        accuracy_at_coverage(CONF, CORRECT, 0.0)


def test_prr_reference_points() -> None:
    assert prr([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert prr([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) < 0.0
    assert prr([0.5] * 4, [1, 1, 0, 0]) == pytest.approx(0.0)


def test_metric_table_has_every_metric_and_intervals() -> None:
    table = metric_table(CONF, CORRECT, n_bootstrap=50, seed=1)
    assert set(METRIC_NAMES) <= set(table)
    assert table["n"] == 6
    assert table["accuracy"] == 0.5
    lo, hi = table["ci"]["ece_15"]
    assert lo <= hi
    assert table["undefined"] == {}
    assert metric_table(CONF, CORRECT, n_bootstrap=0)["ci"] == {}


# -------------------------------------------------------------- degenerate input
@pytest.mark.parametrize("correct", [[1, 1, 1], [0, 0, 0]])
def test_one_class_gives_nan_with_reason(correct: list[int]) -> None:
    conf = [0.2, 0.5, 0.9]
    table = metric_table(conf, correct, n_bootstrap=20)
    assert math.isnan(table["auroc"])
    assert math.isnan(table["prr"])
    assert "auroc" in table["undefined"]
    assert not math.isnan(table["ece_15"])
    assert not math.isnan(table["brier"])
    if correct[0] == 1:
        assert math.isnan(table["auprc_errors"])
        assert "no wrong answers" in table["undefined"]["auprc_errors"]
    else:
        assert table["auprc_errors"] == pytest.approx(1.0)


def test_empty_and_single_sample() -> None:
    empty = metric_table([], [], n_bootstrap=20)
    assert empty["n"] == 0
    assert all(math.isnan(empty[name]) for name in METRIC_NAMES)
    assert set(empty["undefined"]) >= set(METRIC_NAMES)
    assert all(math.isnan(v) for v in empty["ci"]["auroc"])
    single = metric_table([0.7], [1], n_bootstrap=20)
    assert single["ece_15"] == pytest.approx(0.3)
    assert math.isnan(single["auroc"])


@pytest.mark.parametrize(
    ("conf", "correct", "message"),
    [
        ([0.5, 0.6], [1], "differ in length"),
        ([1.2], [1], r"\[0, 1\]"),
        ([-0.1], [0], r"\[0, 1\]"),
        ([math.nan], [1], "NaN"),
        ([0.5], [2], "0/1"),
        ([[0.5]], [[1]], "1-D"),
    ],
)
def test_invalid_input_is_a_config_error(conf: list, correct: list, message: str) -> None:
    with pytest.raises(GuardrailConfigError, match=message):
        ece(conf, correct)
    with pytest.raises(GuardrailConfigError, match=message):
        metric_table(conf, correct, n_bootstrap=0)


def test_undefined_reason_rejects_unknown_metric() -> None:
    with pytest.raises(GuardrailConfigError, match="unknown metric"):
        undefined_reason("accuracy_at_99", [0.5], [1])


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(size=200)
    correct = rng.uniform(size=200) < conf
    first = bootstrap(auroc, conf, correct, n=200, seed=3)
    assert first == bootstrap(auroc, conf, correct, n=200, seed=3)
    assert first[0] <= auroc(conf, correct) <= first[1]
    assert all(math.isnan(v) for v in bootstrap(auroc, [0.5, 0.6], [1, 1], n=20))
    with pytest.raises(GuardrailConfigError):
        bootstrap(auroc, conf, correct, n=0)


# ---------------------------------------------------------------------- properties
def _samples(min_size: int = 1) -> st.SearchStrategy[tuple[list[float], list[int]]]:
    """Confidences on a 1/1000 grid (distinct values stay distinct under the transforms)."""
    return st.integers(min_size, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1000).map(lambda k: k / 1000), min_size=n, max_size=n),
            st.lists(st.integers(0, 1), min_size=n, max_size=n),
        )
    )


@settings(max_examples=60, deadline=None)
@given(_samples(), st.sampled_from([10, 15]))
def test_ece_lies_in_unit_interval_and_below_mce(
    data: tuple[list[float], list[int]], n_bins: int
) -> None:
    conf, correct = data
    value = ece(conf, correct, n_bins)
    assert 0.0 <= value <= 1.0
    assert value <= mce(conf, correct, n_bins) + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 14), st.integers(1, 5)), min_size=1, max_size=10))
def test_ece_is_zero_when_every_bin_is_calibrated(bins: list[tuple[int, int]]) -> None:
    """In each bin, confidence k/n repeated n times with exactly k correct answers."""
    conf, correct = [], []
    for k, n in bins:
        value = min(k, n) / n  # exact accuracy of the bin
        conf += [value] * n
        correct += [1] * min(k, n) + [0] * (n - min(k, n))
    assert ece(conf, correct, 15) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(_samples(2), st.sampled_from(["square", "sqrt", "affine", "cube"]))
def test_ranking_metrics_are_invariant_under_monotone_maps(
    data: tuple[list[float], list[int]], transform: str
) -> None:
    conf, correct = data
    c = np.array(conf)
    mapped = {
        "square": c**2,
        "sqrt": np.sqrt(c),
        "affine": 0.25 + 0.5 * c,
        "cube": c**3,
    }[transform]
    for metric in (auroc, prr, auprc_errors):
        before, after = metric(conf, correct), metric(mapped, correct)
        assert (math.isnan(before) and math.isnan(after)) or before == pytest.approx(after)
    for coverage in (0.5, 0.8):
        assert accuracy_at_coverage(conf, correct, coverage) == pytest.approx(
            accuracy_at_coverage(mapped, correct, coverage)
        )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(501, 1000), min_size=1, max_size=20),
    st.lists(st.integers(0, 499), min_size=1, max_size=20),
)
def test_perfect_separator(correct_scores: list[int], wrong_scores: list[int]) -> None:
    conf = [k / 1000 for k in correct_scores + wrong_scores]
    correct = [1] * len(correct_scores) + [0] * len(wrong_scores)
    assert auroc(conf, correct) == pytest.approx(1.0)
    assert prr(conf, correct) == pytest.approx(1.0)
    assert auprc_errors(conf, correct) == pytest.approx(1.0)
    flipped = [1.0 - c for c in conf]
    assert auroc(flipped, correct) == pytest.approx(0.0)


@settings(max_examples=60, deadline=None)
@given(_samples())
def test_brier_and_nll_bounds(data: tuple[list[float], list[int]]) -> None:
    conf, correct = data
    assert 0.0 <= brier(conf, correct) <= 1.0
    assert nll(conf, correct) >= 0.0
    exact = [float(y) for y in correct]
    assert brier(exact, correct) == 0.0
    assert brier([1.0 - y for y in exact], correct) == 1.0


@settings(max_examples=40, deadline=None)
@given(_samples())
def test_metric_table_never_crashes_on_valid_input(data: tuple[list[float], list[int]]) -> None:
    conf, correct = data
    table = metric_table(conf, correct, n_bootstrap=5)
    for name in METRIC_NAMES:
        assert math.isnan(table[name]) == (name in table["undefined"])


def test_metric_table_reports_ece_beside_its_noise_floor() -> None:
    table = metric_table(CONF, CORRECT, n_bootstrap=0, seed=2)
    assert set(NOISE_NAMES) <= set(table)
    assert table["confidence_gap"] == pytest.approx(np.mean(CONF) - np.mean(CORRECT))
    assert table["ece_above_noise"] == pytest.approx(table["ece_15"] - table["ece_noise_floor"])
    assert table["ece_within_noise"] == (table["ece_15"] <= table["ece_noise_q95"] + 1e-12)
    assert (
        metric_table(CONF, CORRECT, n_bootstrap=0, seed=2)["ece_noise_floor"]
        == (table["ece_noise_floor"])
    )
    empty = metric_table([], [], n_bootstrap=0)
    assert empty["ece_within_noise"] is None
    assert set(NOISE_NAMES) <= set(empty["undefined"])
    assert undefined_reason("ece_noise_floor", [0.5], [1]) is None
