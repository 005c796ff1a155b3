"""Calibration and discrimination metrics of confidences against answer correctness.

Every function takes ``conf`` (confidences in [0, 1]) and ``correct`` (0/1 or bool) of the same
length and returns a float. Conventions (FINECE.md): ECE with equal-width bins (15 primary, 10
also reported), AUROC with *correct* answers as the positive class, AUPRC with *errors* as the
positive class (scored by ``1 - conf``), accuracy at coverage over the most confident answers.
ECE, the reliability bins, the Brier score and the calibration noise floor are
:mod:`guardrail.reliability`'s (one implementation, shared with the runtime's drift monitor);
:func:`metric_table` reports ECE beside its noise floor (:data:`NOISE_NAMES`).

Invalid input (lengths differ, a confidence outside [0, 1] or NaN, a label other than 0/1) is a
:class:`~guardrail.errors.GuardrailConfigError`. Valid but degenerate input never raises: a
metric that is undefined (AUROC with only correct answers, anything on zero samples) is NaN,
and :func:`undefined_reason` says why. Ties in confidence are handled as expected values: the
answers sharing a confidence are ranked by their mean correctness, so every ranking metric is
invariant under strictly increasing transforms of the confidences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from guardrail.errors import GuardrailConfigError
from guardrail.reliability import (
    bin_index,
    brier,
    calibration_summary,
    ece,
    reliability_bins,
    validate,
)

__all__ = [
    "CI_METRICS",
    "METRIC_NAMES",
    "NOISE_NAMES",
    "Metric",
    "accuracy_at_coverage",
    "auprc_errors",
    "auroc",
    "bootstrap",
    "brier",
    "ece",
    "mce",
    "metric_table",
    "nll",
    "prr",
    "reliability_bins",
    "undefined_reason",
    "validate",
]

FloatArray = npt.NDArray[np.float64]
Metric = Callable[[Any, Any], float]
"""``metric(conf, correct) -> float``: the shape :func:`bootstrap` resamples."""


# ---------------------------------------------------------------- calibration
def _bin_gaps(conf: Any, correct: Any, n_bins: int) -> tuple[FloatArray, FloatArray]:
    """Per non-empty bin: ``|accuracy - mean confidence|`` and the bin's share of samples."""
    c, y = validate(conf, correct)
    if c.size == 0:
        return np.empty(0), np.empty(0)
    index = bin_index(c, n_bins)
    counts = np.bincount(index, minlength=n_bins).astype(np.float64)
    conf_sum = np.bincount(index, weights=c, minlength=n_bins)
    acc_sum = np.bincount(index, weights=y, minlength=n_bins)
    full = counts > 0
    gaps = np.abs(acc_sum[full] - conf_sum[full]) / counts[full]
    return gaps, counts[full] / c.size


def mce(conf: Any, correct: Any, n_bins: int = 15) -> float:
    """Maximum calibration error: the largest per-bin ``|accuracy - confidence|``."""
    gaps, _ = _bin_gaps(conf, correct, n_bins)
    return float(gaps.max()) if gaps.size else math.nan


def nll(conf: Any, correct: Any) -> float:
    """Negative log-likelihood of the outcomes (nats; confidences clipped to float eps)."""
    from sklearn.metrics import log_loss

    c, y = validate(conf, correct)
    if c.size == 0:
        return math.nan
    return float(log_loss(y.astype(int), c, labels=[0, 1]))


# ------------------------------------------------------------- discrimination
def _both_classes(y: FloatArray) -> bool:
    return bool(y.size) and 0.0 < float(y.mean()) < 1.0


def auroc(conf: Any, correct: Any) -> float:
    """Area under the ROC curve, correct answers positive (0.5 = no discrimination)."""
    from sklearn.metrics import roc_auc_score

    c, y = validate(conf, correct)
    if not _both_classes(y):
        return math.nan
    return float(roc_auc_score(y.astype(int), c))


def auprc_errors(conf: Any, correct: Any) -> float:
    """Average precision of finding the *wrong* answers by low confidence (errors positive)."""
    from sklearn.metrics import average_precision_score

    c, y = validate(conf, correct)
    if not np.any(y == 0.0):
        return math.nan
    return float(average_precision_score((1.0 - y).astype(int), 1.0 - c))


def _ranked_correctness(c: FloatArray, y: FloatArray) -> FloatArray:
    """Correctness sorted by decreasing confidence, each tie group replaced by its mean."""
    _, inverse = np.unique(c, return_inverse=True)
    means = np.bincount(inverse, weights=y) / np.bincount(inverse)
    order = np.argsort(-c, kind="stable")
    return np.asarray(means[inverse][order], dtype=np.float64)


def accuracy_at_coverage(conf: Any, correct: Any, coverage: float) -> float:
    """Accuracy of the ``ceil(coverage * n)`` most confident answers (coverage in (0, 1])."""
    if not 0.0 < coverage <= 1.0:
        raise GuardrailConfigError(f"coverage must be in (0, 1], got {coverage}")
    c, y = validate(conf, correct)
    if c.size == 0:
        return math.nan
    keep = max(1, math.ceil(coverage * c.size - 1e-9))
    return float(_ranked_correctness(c, y)[:keep].mean())


def _error_curve_area(ranked: FloatArray) -> float:
    """Mean over ``n`` of the error rate of the ``n`` first answers of ``ranked``."""
    retained = np.cumsum(ranked) / np.arange(1, ranked.size + 1)
    return float(np.mean(1.0 - retained))


def prr(conf: Any, correct: Any) -> float:
    """Prediction rejection ratio: 1 for an oracle ranking, 0 for a random one, < 0 if worse.

    Areas under the error-vs-rejection curves: ``(A_random - A_conf) / (A_random - A_oracle)``,
    where rejecting the least confident answers first traces ``A_conf``.
    """
    c, y = validate(conf, correct)
    if not _both_classes(y):
        return math.nan
    area = _error_curve_area(_ranked_correctness(c, y))
    oracle = _error_curve_area(np.sort(y)[::-1])
    random = 1.0 - float(y.mean())
    return (random - area) / (random - oracle)


# --------------------------------------------------------------------- tables
METRIC_NAMES: tuple[str, ...] = (
    "ece_15",
    "ece_10",
    "mce_15",
    "brier",
    "nll",
    "auroc",
    "auprc_errors",
    "prr",
    "accuracy_at_50",
    "accuracy_at_80",
)
"""Keys of :func:`metric_table`, in report order."""

NOISE_NAMES: tuple[str, ...] = (
    "confidence_gap",
    "ece_noise_floor",
    "ece_noise_q95",
    "ece_noise_p",
    "ece_above_noise",
    "ece_within_noise",
)
"""Keys :func:`metric_table` adds from :func:`guardrail.reliability.calibration_summary`:
mean confidence minus accuracy, the mean and 95th percentile of a perfectly calibrated scorer's
ECE-15 at the same confidences, the share of its draws at least the measured ECE-15, the
measured ECE-15 minus the floor, and whether it is at most the 95th percentile (a bool; ``None``
without answers; the others are NaN then)."""

CI_METRICS: tuple[str, ...] = ("ece_15", "brier", "auroc", "auprc_errors")
"""Metrics that :func:`metric_table` gives bootstrap intervals by default."""


def _ece10(conf: Any, correct: Any) -> float:
    return ece(conf, correct, 10)


def _mce15(conf: Any, correct: Any) -> float:
    return mce(conf, correct, 15)


def _acc50(conf: Any, correct: Any) -> float:
    return accuracy_at_coverage(conf, correct, 0.5)


def _acc80(conf: Any, correct: Any) -> float:
    return accuracy_at_coverage(conf, correct, 0.8)


_METRICS: dict[str, Metric] = {
    "ece_15": ece,
    "ece_10": _ece10,
    "mce_15": _mce15,
    "brier": brier,
    "nll": nll,
    "auroc": auroc,
    "auprc_errors": auprc_errors,
    "prr": prr,
    "accuracy_at_50": _acc50,
    "accuracy_at_80": _acc80,
}


def undefined_reason(name: str, conf: Any, correct: Any) -> str | None:
    """Why metric ``name`` is NaN on these inputs, or ``None`` when it is defined."""
    if name not in _METRICS and name not in NOISE_NAMES:
        known = (*METRIC_NAMES, *NOISE_NAMES)
        raise GuardrailConfigError(f"unknown metric {name!r}; expected one of {known}")
    _, y = validate(conf, correct)
    if y.size == 0:
        return "no samples"
    if name in ("auroc", "prr") and not _both_classes(y):
        which = "correct" if y.mean() == 1.0 else "wrong"
        return f"all {y.size} answers are {which}: {name} needs correct and wrong answers"
    if name == "auprc_errors" and not np.any(y == 0.0):
        return f"no wrong answers among {y.size}: AUPRC (errors positive) needs an error"
    return None


def bootstrap(
    metric: Metric,
    conf: Any,
    correct: Any,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(lo, hi)`` of ``metric`` over resampled answers.

    Resamples where the metric is undefined (NaN) are dropped; fewer than two defined resamples
    (or no samples at all) give ``(nan, nan)``.
    """
    if n < 1 or not 0.0 < level < 1.0:
        raise GuardrailConfigError(f"bootstrap needs n >= 1 and 0 < level < 1, got {n}, {level}")
    c, y = validate(conf, correct)
    if c.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, c.size, size=(n, c.size))
    values = np.array([metric(c[idx], y[idx]) for idx in draws], dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return float(lo), float(hi)


def metric_table(
    conf: Any,
    correct: Any,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    ci_metrics: Sequence[str] = CI_METRICS,
) -> dict[str, Any]:
    """Every metric of :data:`METRIC_NAMES` and :data:`NOISE_NAMES`, plus n and the means.

    The means are ``accuracy`` and ``mean_confidence``. ``ci`` maps each of ``ci_metrics`` to
    its bootstrap 95% interval (none when ``n_bootstrap == 0``); ``undefined`` maps each NaN
    metric to its reason. The noise floor is simulated with ``seed``
    (:func:`guardrail.reliability.calibration_summary`).
    """
    c, y = validate(conf, correct)
    table: dict[str, Any] = {
        "n": int(c.size),
        "accuracy": float(y.mean()) if c.size else math.nan,
        "mean_confidence": float(c.mean()) if c.size else math.nan,
    }
    undefined: dict[str, str] = {}
    if c.size == 0:
        undefined["accuracy"] = undefined["mean_confidence"] = "no samples"
    for name in METRIC_NAMES:
        table[name] = _METRICS[name](c, y)
        reason = undefined_reason(name, c, y)
        if reason is not None:
            undefined[name] = reason
    table.update(_noise_columns(c, y, seed))
    if c.size == 0:
        undefined.update(dict.fromkeys(NOISE_NAMES, "no samples"))
    ci: dict[str, list[float]] = {}
    if n_bootstrap > 0:
        for name in ci_metrics:
            ci[name] = list(bootstrap(_METRICS[name], c, y, n=n_bootstrap, seed=seed))
    table["ci"] = ci
    table["undefined"] = undefined
    return table


def _noise_columns(conf: FloatArray, correct: FloatArray, seed: int) -> dict[str, Any]:
    summary = calibration_summary(conf, correct, seed=seed)
    return {
        "confidence_gap": summary.confidence_gap,
        "ece_noise_floor": summary.noise_floor,
        "ece_noise_q95": summary.noise_q95,
        "ece_noise_p": summary.noise_p,
        "ece_above_noise": summary.above_noise,
        "ece_within_noise": summary.within_noise,
    }
