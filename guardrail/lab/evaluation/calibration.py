"""Calibration maps fitted on a dev split and applied to a test split.

Methods that do not output probabilities (or output badly calibrated ones) are compared fairly
after a monotone map from their raw score to a probability (FINECE.md):

* Platt scaling: logistic regression (scikit-learn) on the logit of the raw score, constrained
  to be non-decreasing (a confidence map must not reverse the ranking; a negative fitted slope
  becomes 0, i.e. the dev base rate, the constrained maximum-likelihood fit);
* isotonic regression (scikit-learn), clipped to [0, 1] and constant outside the fitted range.

A map needs at least two dev answers, correct and wrong ones both; :func:`unfit_reason` says
why a dev split cannot be fitted, and the fitting functions raise
:class:`~guardrail.errors.GuardrailConfigError` on such a split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from guardrail.calibration import PlattMap, fit_platt_soft
from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.metrics import FloatArray, validate

__all__ = [
    "CALIBRATION_KINDS",
    "CalibrationMap",
    "IsotonicMap",
    "PlattMap",
    "fit_calibration",
    "fit_isotonic",
    "fit_platt",
    "unfit_reason",
]

CalibrationKind = Literal["platt", "isotonic"]
CALIBRATION_KINDS: tuple[CalibrationKind, ...] = ("platt", "isotonic")


class CalibrationMap(Protocol):
    """A fitted map from raw scores in [0, 1] to calibrated probabilities in [0, 1]."""

    @property
    def kind(self) -> str:
        """``"platt"`` or ``"isotonic"``."""
        ...

    def apply(self, scores: Any) -> FloatArray:
        """Calibrated probabilities for ``scores``."""
        ...


@dataclass(frozen=True, slots=True)
class IsotonicMap:
    """A non-decreasing step function fitted by isotonic regression."""

    model: Any

    @property
    def kind(self) -> str:
        """``"isotonic"``."""
        return "isotonic"

    def apply(self, scores: Any) -> FloatArray:
        """Calibrated probabilities for ``scores``."""
        s, _ = validate(scores, np.zeros(np.size(scores)))
        return np.clip(np.asarray(self.model.predict(s), dtype=np.float64), 0.0, 1.0)


def unfit_reason(scores: Any, correct: Any) -> str | None:
    """Why no calibration map can be fitted on this dev split, or ``None`` if one can."""
    s, y = validate(scores, correct)
    if s.size < 2:
        return f"dev split has {s.size} answer(s); a calibration map needs at least 2"
    if y.min() == y.max():
        which = "correct" if y[0] == 1.0 else "wrong"
        return f"every dev answer is {which}; a calibration map needs both outcomes"
    return None


def _checked(scores: Any, correct: Any) -> tuple[FloatArray, FloatArray]:
    reason = unfit_reason(scores, correct)
    if reason is not None:
        raise GuardrailConfigError(reason)
    return validate(scores, correct)


def fit_platt(scores: Any, correct: Any) -> PlattMap:
    """Fit Platt scaling on dev ``scores`` (in [0, 1]) and 0/1 ``correct``."""
    s, y = _checked(scores, correct)
    return fit_platt_soft(s, y)  # 0/1 targets are soft targets with all weight on one side


def fit_isotonic(scores: Any, correct: Any) -> IsotonicMap:
    """Fit isotonic regression on dev ``scores`` and 0/1 ``correct``."""
    from sklearn.isotonic import IsotonicRegression

    s, y = _checked(scores, correct)
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(s, y)
    return IsotonicMap(model)


_FITTERS: dict[str, Callable[[Any, Any], CalibrationMap]] = {
    "platt": fit_platt,
    "isotonic": fit_isotonic,
}


def fit_calibration(kind: str, scores: Any, correct: Any) -> CalibrationMap:
    """Fit the map named ``kind`` (one of :data:`CALIBRATION_KINDS`)."""
    try:
        fitter = _FITTERS[kind]
    except KeyError:
        raise GuardrailConfigError(
            f"unknown calibration {kind!r}; expected one of {', '.join(CALIBRATION_KINDS)}"
        ) from None
    return fitter(scores, correct)
