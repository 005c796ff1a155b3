"""A small calibrated combiner of confidence signals: logistic regression on their logits.

Each input is a confidence in [0, 1] (a FineCE estimate, a logprob signal); the combiner reads
``logit(x)``, standardised with the fit's mean and scale, and returns
``sigmoid(coef . z + intercept)``, a calibrated probability that the answer is right. It is
fitted with an L2 penalty (scikit-learn's ``LogisticRegression``, ``C=1``) so that a few hundred
graded answers give stable weights, and stored as plain JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guardrail._optional import require
from guardrail.calibration import logit
from guardrail.errors import GuardrailConfigError

__all__ = ["HYBRID_FEATURES", "LogisticCombiner", "fit_combiner"]

HYBRID_FEATURES: tuple[str, ...] = (
    "finece_question",
    "finece_outcome",
    "mean_logprob",
    "min_window",
    "mean_entropy",
)
"""What the hybrid combiner reads: FineCE before the answer and at the current point, and the
three logprob signals of the answer's tokens (``guardrail.token_signals``)."""


@dataclass(frozen=True, slots=True)
class LogisticCombiner:
    """``sigmoid(sum(coef[i] * (logit(x[i]) - mean[i]) / scale[i]) + intercept)``."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        n = len(self.features)
        if n == 0 or len(set(self.features)) != n:
            raise GuardrailConfigError("a combiner needs distinct feature names")
        if not len(self.coef) == len(self.mean) == len(self.scale) == n:
            raise GuardrailConfigError(
                f"combiner: {n} features but {len(self.coef)} coefficients, "
                f"{len(self.mean)} means, {len(self.scale)} scales"
            )
        numbers = (*self.coef, *self.mean, *self.scale, self.intercept)
        if not all(math.isfinite(v) for v in numbers) or min(self.scale) <= 0.0:
            raise GuardrailConfigError("combiner: numbers must be finite and scales positive")

    def predict(self, values: Mapping[str, float]) -> float:
        """The combined probability for one answer's signals (every feature must be given)."""
        missing = [name for name in self.features if name not in values]
        if missing:
            raise GuardrailConfigError(f"combiner input lacks {', '.join(missing)}")
        z = logit([values[name] for name in self.features])
        total = self.intercept + sum(
            c * (float(x) - m) / s
            for c, x, m, s in zip(self.coef, z, self.mean, self.scale, strict=True)
        )
        return 0.5 * (1.0 + math.tanh(0.5 * total))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": "logistic",
            "features": list(self.features),
            "coef": list(self.coef),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "combiner") -> LogisticCombiner:
        """Parse :meth:`to_dict` output; errors name ``where`` and the field."""
        if not isinstance(data, Mapping) or data.get("kind") != "logistic":
            raise GuardrailConfigError(f"{where}: expected a logistic combiner object")
        try:
            return cls(
                features=tuple(str(f) for f in data["features"]),
                coef=tuple(float(v) for v in data["coef"]),
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) for v in data["scale"]),
                intercept=float(data["intercept"]),
            )
        except KeyError as exc:
            raise GuardrailConfigError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise GuardrailConfigError(f"{where}: {exc}") from None


def fit_combiner(
    rows: Sequence[Mapping[str, float]], labels: Sequence[bool], features: Sequence[str]
) -> LogisticCombiner:
    """Fit on graded answers: ``rows[i]`` holds each feature's confidence for answer ``i``."""
    np = require("numpy", "lab")
    LogisticRegression = require("sklearn.linear_model", "lab").LogisticRegression

    if len(rows) != len(labels):
        raise GuardrailConfigError(f"{len(rows)} rows but {len(labels)} labels")
    if len(set(labels)) < 2:
        raise GuardrailConfigError("a combiner needs both right and wrong answers to fit")
    x = np.array([logit([row[name] for name in features]) for row in rows], dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((x - mean) / scale, np.asarray(labels, dtype=int))
    return LogisticCombiner(
        features=tuple(features),
        coef=tuple(float(v) for v in model.coef_[0]),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        intercept=float(model.intercept_[0]),
    )
