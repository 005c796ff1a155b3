"""Platt scaling: the monotone confidence map a scorer artifact can carry.

``sigmoid(coef * logit(p) + intercept)`` with ``coef >= 0`` never reverses the ranking of two
estimates, so it changes calibration (ECE, Brier) and leaves AUROC alone. The trainer fits one
on the dev split of its Monte Carlo labels (soft targets in [0, 1]: each example counts as a
``label``-weighted positive and a ``1 - label``-weighted negative) and stores it in
``finece.json`` under ``calibration``; :class:`~guardrail.scorers.finece.FineCEScorer` applies it
to every estimate unless it is loaded with ``calibrated=False``. The evaluation uses the same
map for its dev-fitted baselines (:mod:`guardrail.lab.evaluation.calibration`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from guardrail._optional import require
from guardrail.errors import GuardrailConfigError

__all__ = ["PlattMap", "StageCalibration", "fit_platt_soft", "logit"]

_EPS = 1e-6


def logit(scores: Any) -> npt.NDArray[np.float64]:
    """``log(p / (1 - p))`` with ``p`` clipped to ``[1e-6, 1 - 1e-6]``."""
    clipped = np.clip(np.asarray(scores, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(clipped) - np.log1p(-clipped), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class PlattMap:
    """``sigmoid(coef * logit(score) + intercept)``; ``coef >= 0`` keeps the ranking."""

    coef: float
    intercept: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.coef) and math.isfinite(self.intercept)):
            raise GuardrailConfigError(
                f"Platt map needs finite numbers, got coef={self.coef}, intercept={self.intercept}"
            )
        if self.coef < 0.0:
            raise GuardrailConfigError(
                f"Platt map coef must be >= 0 (a negative slope reverses the ranking), "
                f"got {self.coef}"
            )

    @property
    def kind(self) -> str:
        """``"platt"``."""
        return "platt"

    def apply(self, scores: Any) -> npt.NDArray[np.float64]:
        """Calibrated probabilities for scores in [0, 1] (an array of the same length)."""
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(s)) or (s.size and (s.min() < 0.0 or s.max() > 1.0)):
            raise GuardrailConfigError("Platt map input must be finite numbers in [0, 1]")
        z = self.coef * logit(s) + self.intercept
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)  # overflow-free

    def apply_list(self, scores: Sequence[float]) -> list[float]:
        """:meth:`apply` for a list of floats."""
        return [float(v) for v in self.apply(list(scores))]

    @property
    def invertible(self) -> bool:
        """False for the constant map (``coef == 0``), which forgets its input."""
        return self.coef > 0.0

    def invert(self, probability: float) -> float:
        """The score that :meth:`apply` maps to ``probability`` (needs :attr:`invertible`)."""
        if not self.invertible:
            raise GuardrailConfigError("a constant Platt map (coef 0) cannot be inverted")
        z = (float(logit([probability])[0]) - self.intercept) / self.coef
        return float(0.5 * (1.0 + math.tanh(0.5 * z)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``finece.json``."""
        return {"kind": "platt", "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "calibration") -> PlattMap:
        """Parse :meth:`to_dict` output; errors name ``where`` and the bad field."""
        if not isinstance(data, Mapping):
            raise GuardrailConfigError(f"{where}: expected an object, got {type(data).__name__}")
        if data.get("kind") != "platt":
            raise GuardrailConfigError(
                f"{where}.kind: unsupported calibration {data.get('kind')!r}; expected 'platt'"
            )
        values: dict[str, float] = {}
        for key in ("coef", "intercept"):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise GuardrailConfigError(f"{where}.{key}: expected a number, got {value!r}")
            values[key] = float(value)
        return cls(coef=values["coef"], intercept=values["intercept"])


def fit_platt_soft(scores: Any, targets: Any) -> PlattMap:
    """Fit Platt scaling (scikit-learn) on scores in [0, 1] and soft targets in [0, 1].

    A negative fitted slope becomes the constant map to the mean target (the constrained
    maximum-likelihood fit). Needs at least two examples and targets that are not all equal.
    """
    LogisticRegression = require("sklearn.linear_model", "lab").LogisticRegression

    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if s.shape != y.shape:
        raise GuardrailConfigError(f"scores and targets differ in length: {s.size} != {y.size}")
    for name, array in (("scores", s), ("targets", y)):
        if not np.all(np.isfinite(array)) or (
            array.size and (array.min() < 0.0 or array.max() > 1.0)
        ):
            raise GuardrailConfigError(f"{name} must be finite numbers in [0, 1]")
    if s.size < 2 or y.min() == y.max():
        raise GuardrailConfigError(
            f"a Platt map needs at least 2 examples with different targets, got {s.size}"
        )
    x = logit(s).reshape(-1, 1)
    model = LogisticRegression(C=1e4, max_iter=1000)
    model.fit(
        np.concatenate([x, x]),
        np.concatenate([np.ones(s.size, dtype=int), np.zeros(s.size, dtype=int)]),
        sample_weight=np.concatenate([y, 1.0 - y]),
    )
    coef = float(model.coef_[0, 0])
    if coef < 0.0:
        rate = float(np.clip(y.mean(), _EPS, 1.0 - _EPS))
        return PlattMap(coef=0.0, intercept=math.log(rate) - math.log1p(-rate))
    return PlattMap(coef=coef, intercept=float(model.intercept_[0]))


STAGES: tuple[str, ...] = ("question", "process", "outcome")


@dataclass(frozen=True, slots=True)
class StageCalibration:
    """Separate Platt maps for question, process and outcome estimates.

    Monte Carlo label stores are mostly finished answers (outcome labels), so one map fitted on
    all of them is an outcome map and shifts the early estimates. The trainer also fits a map
    per stage on the dev split (``calibration_by_stage`` in ``finece.json``); a scorer applies
    ``pooled`` to every number it writes (it does not know the stage), and whoever knows the
    stage (the monitor, the evaluation) calls :meth:`restage` to swap the pooled map for the
    stage's own. A stage without its own map keeps the pooled number.
    """

    pooled: PlattMap | None
    by_stage: Mapping[str, PlattMap]

    def __post_init__(self) -> None:
        unknown = set(self.by_stage) - set(STAGES)
        if unknown:
            raise GuardrailConfigError(
                f"calibration_by_stage: unknown stage(s) {sorted(unknown)}; valid: "
                + ", ".join(STAGES)
            )

    def restage(self, confidence: float, stage: str) -> float:
        """``confidence`` (the pooled map's output) re-mapped with ``stage``'s own map."""
        own = self.by_stage.get(stage)
        if own is None:
            return confidence
        if self.pooled is None:
            raw = confidence
        elif self.pooled.invertible:
            raw = self.pooled.invert(confidence)
        else:
            return confidence  # the constant pooled map forgot the score
        return float(own.apply([raw])[0])

    def to_dict(self) -> dict[str, Any]:
        """The ``calibration_by_stage`` entry of ``finece.json``."""
        return {stage: platt.to_dict() for stage, platt in self.by_stage.items()}

    @classmethod
    def from_dict(
        cls, pooled: PlattMap | None, data: Mapping[str, Any], *, where: str
    ) -> StageCalibration:
        """Parse ``calibration_by_stage``; errors name ``where`` and the stage."""
        if not isinstance(data, Mapping):
            raise GuardrailConfigError(f"{where}: expected an object, got {type(data).__name__}")
        maps = {
            str(stage): PlattMap.from_dict(value, where=f"{where}.{stage}")
            for stage, value in data.items()
        }
        try:
            return cls(pooled=pooled, by_stage=maps)
        except GuardrailConfigError as exc:
            raise GuardrailConfigError(f"{where}: {exc}") from None
