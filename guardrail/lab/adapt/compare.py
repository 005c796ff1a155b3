"""Fit every candidate on the fit split, choose on dev, report all of them on the test split.

:func:`compare` is the measuring half of ``guardrail adapt`` (no model runs here: the rows
already carry every feature), also used by the learning-curve script of ``reports/adapt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from guardrail.lab.adapt.candidates import (
    CANDIDATES,
    CandidateSpec,
    FittedCandidate,
    fit_candidates,
)
from guardrail.lab.adapt.measure import RULE, choose, measure, measure_values, suggest_threshold
from guardrail.lab.adapt.rows import Row, outcome_rows
from guardrail.lab.evaluation.metrics import auroc
from guardrail.token_signals import SIGNAL_NAMES

__all__ = ["FREE_SIGNALS", "Comparison", "best_free_signal", "compare"]

FREE_SIGNALS: tuple[str, ...] = (*SIGNAL_NAMES, "first_token")
"""Single-pass signals of the generator's own logprobs, no training (``first_token`` where the
answers carry it): the best of them, picked on the test answers, is the bar to beat."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every candidate's dev and test figures, the choice and why, the dev threshold."""

    fitted: tuple[FittedCandidate, ...]
    skipped: dict[str, str]
    dev: dict[str, dict[str, Any]]
    test: dict[str, dict[str, Any]]
    choice: str
    why: str
    threshold: dict[str, Any]
    best_free: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> FittedCandidate:
        """The fitted candidate that was chosen."""
        return next(c for c in self.fitted if c.name == self.choice)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the card's ``adapt`` section)."""
        return {
            "rule": RULE,
            "choice": self.choice,
            "why": self.why,
            "threshold": self.threshold,
            "candidates": {
                c.name: {
                    "description": c.spec.description,
                    "deployable": c.spec.deployable,
                    "dev": self.dev.get(c.name, {}),
                    "test": self.test.get(c.name, {}),
                    "fitted": c.to_dict(),
                }
                for c in self.fitted
            },
            "not_fitted": dict(self.skipped),
            "best_free_signal_on_test": self.best_free,
        }


def best_free_signal(
    rows: Sequence[Row], *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The free signal with the highest AUROC on these finished answers (picked after the fact).

    Its raw figures; AUROC does not depend on a monotone map, so a calibrated version ranks the
    same (its Brier score is the calibrated candidate's).
    """
    answers = outcome_rows(rows)
    best: dict[str, Any] = {}
    for name in FREE_SIGNALS:
        scored = [r for r in answers if name in r.features]
        if len(scored) < len(answers) or not scored:
            continue
        values = [r.features[name] for r in scored]
        correct = [r.correct for r in scored]
        value = auroc(values, correct)
        if value == value and (not best or value > best["auroc"]):  # NaN never wins
            best = {
                "signal": name,
                **measure_values(values, correct, n_bootstrap=n_bootstrap, seed=seed),
            }
    return best


def compare(
    fit: Sequence[Row],
    dev: Sequence[Row],
    test: Sequence[Row],
    *,
    specs: Sequence[CandidateSpec] = CANDIDATES,
    target_accuracy: float = 0.9,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Fit ``specs`` on ``fit``, measure them on ``dev`` and ``test``, choose by the rule on dev.

    The threshold for ``target_accuracy`` is the chosen candidate's, on the dev answers. Dev
    figures are point figures; test figures carry ``n_bootstrap`` intervals and the noise floor.
    """
    fitted, skipped = fit_candidates(fit, specs)
    dev_figures = {c.name: measure(c, dev, n_bootstrap=0, seed=seed) for c in fitted}
    test_figures = {c.name: measure(c, test, n_bootstrap=n_bootstrap, seed=seed) for c in fitted}
    choice, why = choose(dev_figures, {c.name: c.spec.deployable for c in fitted})
    chosen = next(c for c in fitted if c.name == choice)
    pairs = [(chosen.predict(r), r.correct) for r in outcome_rows(dev)]
    values = [v for v, _ in pairs if v is not None]
    correct = [y for v, y in pairs if v is not None]
    threshold = suggest_threshold(values, correct, target_accuracy)
    return Comparison(
        tuple(fitted),
        skipped,
        dev_figures,
        test_figures,
        choice,
        why,
        threshold,
        best_free_signal(test, n_bootstrap=n_bootstrap, seed=seed),
    )
