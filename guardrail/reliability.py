"""Calibration measured against its noise: ECE beside what a calibrated scorer would show.

ECE with 15 equal-width bins on a few dozen answers is mostly sampling noise: even a perfectly
calibrated scorer (every answer right with exactly its stated confidence) shows a positive ECE,
larger the fewer the answers and the more of them sit near 0.5. :func:`calibration_summary`
reports the measured ECE beside that **noise floor**, simulated for the same confidences: the
outcomes are redrawn ``n_sim`` times as ``Bernoulli(confidence)`` (a fixed seed) and the ECE of
each draw computed with the same bins. The measured ECE is *within its noise* when it does not
exceed the draws' 95th percentile (``noise_p``, the share of draws at least as large, is then
above 0.05). Beside it: the signed gap (mean confidence minus accuracy: positive means
over-confident) and the Brier score.

This is the one implementation: the lab's evaluation (:mod:`guardrail.lab.evaluation.metrics`)
and the runtime's drift monitor (:mod:`guardrail.runtime.drift`) both call it. numpy only.

Conventions (FINECE.md): bins ``[k/B, (k+1)/B)``, the last one closed; ECE is the
sample-weighted mean of per-bin ``|accuracy - mean confidence|``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from guardrail.errors import GuardrailConfigError

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_SIMULATIONS",
    "NOISE_LEVEL",
    "CalibrationReading",
    "CalibrationSummary",
    "bin_index",
    "brier",
    "calibrated_ece_draws",
    "calibration_summary",
    "ece",
    "reliability_bins",
    "validate",
]

FloatArray = npt.NDArray[np.float64]

DEFAULT_BINS = 15
"""Equal-width bins of the primary ECE (FINECE.md)."""

DEFAULT_SIMULATIONS = 1000
"""Outcome draws of a perfectly calibrated scorer behind each noise floor."""

NOISE_LEVEL = 0.95
"""An ECE at or below this quantile of the calibrated draws is within its noise."""


def validate(conf: Any, correct: Any) -> tuple[FloatArray, FloatArray]:
    """``(conf, correct)`` as 1-D float arrays, or :class:`GuardrailConfigError` if invalid.

    Confidences must be finite and in [0, 1], outcomes 0/1 (or booleans), both of one length.
    """
    c = np.asarray(conf, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    problems = []
    if c.ndim != 1 or y.ndim != 1:
        problems.append(f"conf and correct must be 1-D, got shapes {c.shape} and {y.shape}")
    elif c.shape != y.shape:
        problems.append(f"conf and correct differ in length: {c.size} != {y.size}")
    if not np.all(np.isfinite(c)):
        problems.append("conf contains NaN or infinite values")
    elif c.size and (c.min() < 0.0 or c.max() > 1.0):
        problems.append(f"conf must lie in [0, 1], got values in [{c.min()}, {c.max()}]")
    if y.size and not np.all((y == 0.0) | (y == 1.0)):
        problems.append("correct must hold only 0/1 (or booleans)")
    if problems:
        raise GuardrailConfigError("; ".join(problems))
    return c, y


def bin_index(conf: FloatArray, n_bins: int = DEFAULT_BINS) -> npt.NDArray[np.int64]:
    """The equal-width bin of each confidence (``1.0`` goes to the last bin)."""
    if n_bins < 1:
        raise GuardrailConfigError(f"n_bins must be >= 1, got {n_bins}")
    return np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)


def reliability_bins(conf: Any, correct: Any, n_bins: int = DEFAULT_BINS) -> list[dict[str, float]]:
    """Per equal-width bin ``[lo, hi)`` (the last one closed): count, mean confidence, accuracy.

    Empty bins have ``count == 0`` and NaN means.
    """
    c, y = validate(conf, correct)
    index = bin_index(c, n_bins)
    counts = np.bincount(index, minlength=n_bins)
    conf_sum = np.bincount(index, weights=c, minlength=n_bins)
    acc_sum = np.bincount(index, weights=y, minlength=n_bins)
    rows = []
    for b in range(n_bins):
        n = int(counts[b])
        rows.append(
            {
                "lo": b / n_bins,
                "hi": (b + 1) / n_bins,
                "count": float(n),
                "confidence": float(conf_sum[b] / n) if n else math.nan,
                "accuracy": float(acc_sum[b] / n) if n else math.nan,
            }
        )
    return rows


def _ece_of_rows(residuals: FloatArray, index: npt.NDArray[np.int64], n_bins: int) -> FloatArray:
    """ECE of each row of ``residuals`` (outcome minus confidence), the bins fixed by ``index``."""
    one_hot = np.zeros((index.size, n_bins))
    one_hot[np.arange(index.size), index] = 1.0
    per_bin = residuals @ one_hot  # (rows, bins): the sum of residuals in each bin
    return np.asarray(np.abs(per_bin).sum(axis=1) / index.size, dtype=np.float64)


def ece(conf: Any, correct: Any, n_bins: int = DEFAULT_BINS) -> float:
    """Expected calibration error: sample-weighted mean of per-bin ``|accuracy - confidence|``.

    NaN on zero answers.
    """
    c, y = validate(conf, correct)
    if c.size == 0:
        return math.nan
    return float(_ece_of_rows((y - c)[None, :], bin_index(c, n_bins), n_bins)[0])


def brier(conf: Any, correct: Any) -> float:
    """Brier score: mean squared difference between confidence and correctness (NaN if empty)."""
    c, y = validate(conf, correct)
    return float(np.mean((c - y) ** 2)) if c.size else math.nan


def calibrated_ece_draws(
    conf: Any,
    *,
    n_bins: int = DEFAULT_BINS,
    n_sim: int = DEFAULT_SIMULATIONS,
    seed: int = 0,
) -> FloatArray:
    """ECEs of ``n_sim`` outcome draws of a perfectly calibrated scorer with confidences ``conf``.

    Each draw makes every answer right with probability equal to its confidence; the bins are
    those of ``conf``. Seeded: the same inputs give the same draws. Empty ``conf``: no draws.
    """
    if n_sim < 1:
        raise GuardrailConfigError(f"n_sim must be >= 1, got {n_sim}")
    c, _ = validate(conf, np.zeros(np.size(conf)))
    if c.size == 0:
        return np.empty(0)
    rng = np.random.default_rng(seed)
    outcomes = (rng.random((n_sim, c.size)) < c).astype(np.float64)
    return _ece_of_rows(outcomes - c, bin_index(c, n_bins), n_bins)


@dataclass(frozen=True, slots=True)
class CalibrationSummary:
    """How well confidences match outcomes, and how much of the ECE is sampling noise.

    ``confidence_gap`` is mean confidence minus accuracy (positive: over-confident).
    ``noise_floor`` is the mean ECE of a perfectly calibrated scorer with the same confidences,
    ``noise_q95`` its 95th percentile, ``noise_p`` the share of those draws with an ECE at least
    the measured one; ``within_noise`` is ``ece <= noise_q95`` (``None`` on zero answers).
    Every float is NaN on zero answers.
    """

    n: int
    accuracy: float
    mean_confidence: float
    confidence_gap: float
    brier: float
    ece: float
    noise_floor: float
    noise_q95: float
    noise_p: float
    within_noise: bool | None
    n_bins: int = DEFAULT_BINS

    @property
    def above_noise(self) -> float:
        """``ece - noise_floor``: the part of the ECE a calibrated scorer would not show."""
        return self.ece - self.noise_floor

    @property
    def excess_over_q95(self) -> float:
        """``ece - noise_q95``: how far the ECE lies beyond the noise band (> 0: outside it)."""
        return self.ece - self.noise_q95

    def to_dict(self) -> dict[str, Any]:
        """The fields and ``above_noise`` as a JSON-ready mapping (NaN left to the writer)."""
        return {**asdict(self), "above_noise": self.above_noise}


def calibration_summary(
    conf: Any,
    correct: Any,
    *,
    n_bins: int = DEFAULT_BINS,
    n_sim: int = DEFAULT_SIMULATIONS,
    seed: int = 0,
) -> CalibrationSummary:
    """ECE, its noise floor at these confidences, the signed gap and the Brier score.

    See the module docstring for the simulation; invalid input is a
    :class:`GuardrailConfigError`, zero answers give NaNs and ``within_noise=None``.
    """
    c, y = validate(conf, correct)
    if c.size == 0:
        nan = math.nan
        return CalibrationSummary(0, nan, nan, nan, nan, nan, nan, nan, nan, None, n_bins)
    measured = ece(c, y, n_bins)
    draws = calibrated_ece_draws(c, n_bins=n_bins, n_sim=n_sim, seed=seed)
    q95 = float(np.quantile(draws, NOISE_LEVEL))
    accuracy, mean_conf = float(y.mean()), float(c.mean())
    return CalibrationSummary(
        n=int(c.size),
        accuracy=accuracy,
        mean_confidence=mean_conf,
        confidence_gap=mean_conf - accuracy,
        brier=brier(c, y),
        ece=measured,
        noise_floor=float(draws.mean()),
        noise_q95=q95,
        noise_p=float(np.mean(draws >= measured - 1e-12)),
        within_noise=bool(measured <= q95 + 1e-12),
        n_bins=n_bins,
    )


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass(frozen=True, slots=True)
class CalibrationReading:
    """The live calibration of the guard: a summary over the last decided review items.

    ``summary`` compares the live confidences of those items with the reviewers' verdicts
    (approve: right; edit or reject: wrong). ``window`` is how many decided items were asked
    for (``summary.n`` may be fewer), ``generator`` the model whose items were read (``None``:
    every model), ``source`` where they were read from. The runtime's drift monitor
    (:mod:`guardrail.runtime.drift`) makes these; a policy's ``calibration_drift`` condition
    reads the one in its :class:`~guardrail.policy.RunContext` (as a
    :class:`~guardrail.policy.drift.LiveCalibration`).
    """

    summary: CalibrationSummary
    window: int
    generator: str | None = None
    source: str = ""

    @property
    def items(self) -> int:
        """How many decided review items the summary is measured on."""
        return self.summary.n

    @property
    def excess(self) -> float:
        """How far the calibration error lies beyond its noise band (``ece - noise_q95``)."""
        return self.summary.excess_over_q95

    def describe(self) -> str:
        """One line: the error, its noise floor and band, the gap, over how many items."""
        s = self.summary
        return (
            f"calibration error {s.ece:.3f} over the last {s.n} decided review item(s) "
            f"(noise floor {s.noise_floor:.3f}, 95% of a calibrated scorer below "
            f"{s.noise_q95:.3f}; mean confidence - accuracy {s.confidence_gap:+.3f})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (non-finite numbers as ``None``) for audit records and reports."""
        summary = {k: _finite_or_none(v) for k, v in self.summary.to_dict().items()}
        return {
            "window": self.window,
            "generator": self.generator,
            "source": self.source,
            **summary,
        }
