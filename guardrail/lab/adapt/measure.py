"""Figures of a candidate on graded finished answers, the selection rule and the threshold.

Every candidate is measured on the same answers: outcome AUROC (right answers ranked above
wrong ones) with a percentile bootstrap interval, the Brier score, ECE beside its noise floor
(:func:`guardrail.reliability.calibration_summary`) and the mean confidence minus the accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from guardrail.lab.adapt.candidates import COMPLEXITY, FittedCandidate
from guardrail.lab.adapt.rows import Row
from guardrail.lab.evaluation.metrics import auroc, bootstrap, brier, ece

__all__ = [
    "RULE",
    "TIE_MARGIN",
    "choose",
    "measure",
    "measure_values",
    "suggest_threshold",
]

TIE_MARGIN = 0.02
"""Dev AUROCs closer than this to the best count as a tie (the simpler candidate wins)."""

RULE = (
    "on the dev split's finished answers, the deployable candidate with the highest outcome "
    f"AUROC wins; candidates within {TIE_MARGIN} of the best are tied and the simplest of them "
    "wins (logprob signal < FineCE recalibrated < hybrid < fine-tune < fine-tune hybrid), then "
    "the lower Brier score; where the dev answers are all right or all wrong (no AUROC), the "
    "lowest Brier score wins"
)
"""The selection rule, written into the card."""


def measure_values(
    values: Sequence[float], correct: Sequence[bool], *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Outcome figures of confidences ``values`` on answers graded ``correct`` (NaN: undefined)."""
    n = len(values)
    if n == 0:
        return {"answers": 0}
    figures: dict[str, Any] = {
        "answers": n,
        "right": int(sum(correct)),
        "auroc": auroc(values, correct),
        "brier": brier(values, correct),
        "ece": ece(values, correct),
        "accuracy": sum(correct) / n,
        "mean_confidence": math.fsum(values) / n,
    }
    figures["confidence_gap"] = figures["mean_confidence"] - figures["accuracy"]
    if n_bootstrap > 0:  # 0: point figures only (the dev split, where only the choice matters)
        figures["auroc_ci"] = list(bootstrap(auroc, values, correct, n=n_bootstrap, seed=seed))
        figures["brier_ci"] = list(bootstrap(brier, values, correct, n=n_bootstrap, seed=seed))
        figures.update(_noise(values, correct, seed))
    return figures


def _noise(values: Sequence[float], correct: Sequence[bool], seed: int) -> dict[str, Any]:
    try:
        from guardrail.reliability import calibration_summary
    except ImportError:  # the noise floor landed with issue 23's item 3
        return {}
    summary = calibration_summary(values, correct, seed=seed)
    return {
        "ece_noise_floor": summary.noise_floor,
        "ece_noise_q95": summary.noise_q95,
        "ece_within_noise": summary.within_noise,
    }


def measure(
    candidate: FittedCandidate, rows: Sequence[Row], *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """:func:`measure_values` of ``candidate`` on the finished answers of ``rows`` it can score."""
    pairs = [(candidate.predict(r), r.correct) for r in rows if r.stage == "outcome"]
    scored = [(v, y) for v, y in pairs if v is not None]
    figures = measure_values(
        [v for v, _ in scored], [y for _, y in scored], n_bootstrap=n_bootstrap, seed=seed
    )
    figures["unscored"] = len(pairs) - len(scored)
    return figures


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def choose(dev: Mapping[str, Mapping[str, Any]], deployable: Mapping[str, bool]) -> tuple[str, str]:
    """The candidate :data:`RULE` picks from the dev figures, and why (one sentence).

    ``dev`` maps candidate names to :func:`measure` figures; only ``deployable`` ones compete.
    """
    names = [n for n in dev if deployable.get(n) and dev[n].get("answers")]
    if not names:
        raise ValueError("no deployable candidate was measured on the dev split")
    with_auroc = [n for n in names if _finite(dev[n].get("auroc"))]
    if not with_auroc:
        best = min(names, key=lambda n: (dev[n]["brier"], COMPLEXITY.get(n, 99)))
        return (
            best,
            f"dev answers all graded alike (no AUROC): lowest dev Brier {_f(dev[best]['brier'])}",
        )
    top = max(dev[n]["auroc"] for n in with_auroc)
    tied = [n for n in with_auroc if dev[n]["auroc"] >= top - TIE_MARGIN]
    best = min(tied, key=lambda n: (COMPLEXITY.get(n, 99), -dev[n]["auroc"], dev[n]["brier"]))
    leader = max(with_auroc, key=lambda n: (dev[n]["auroc"], -COMPLEXITY.get(n, 99)))
    if best == leader:
        why = f"highest dev AUROC {_f(top)}"
        others = [n for n in tied if n != best]
        if others:
            why += f" (tied within {TIE_MARGIN} with {', '.join(others)}, none simpler)"
    elif COMPLEXITY.get(best, 99) < COMPLEXITY.get(leader, 99):
        why = (
            f"dev AUROC {_f(dev[best]['auroc'])}, within {TIE_MARGIN} of the best "
            f"({leader} {_f(top)}), and simpler"
        )
    else:
        why = (
            f"dev AUROC {_f(dev[best]['auroc'])}, within {TIE_MARGIN} of the best "
            f"({leader} {_f(top)}), as simple, lower dev Brier {_f(dev[best]['brier'])}"
        )
    return best, why


def _f(value: Any) -> str:
    return f"{value:.3f}" if _finite(value) else "n/a"


def suggest_threshold(
    values: Sequence[float], correct: Sequence[bool], target: float
) -> dict[str, Any]:
    """The lowest confidence at which the answers accepted (confidence >= it) reach ``target``.

    Computed on the dev answers: ``threshold``, the accepted share (``coverage``) and their
    accuracy. When no threshold reaches the target, ``threshold`` is ``None`` and
    ``best_accuracy`` says what the most selective one reached.
    """
    order = sorted(zip(values, correct, strict=True), key=lambda p: -p[0])
    best: dict[str, Any] = {"threshold": None, "target_accuracy": target, "answers": len(order)}
    right = 0
    top_accuracy = -1.0
    for index, (value, ok) in enumerate(order, start=1):
        right += ok
        if index < len(order) and order[index][0] == value:
            continue  # accept every answer of a tied confidence together
        accuracy = right / index
        top_accuracy = max(top_accuracy, accuracy)
        if accuracy >= target:
            best.update(threshold=value, coverage=index / len(order), accuracy=accuracy)
    if best["threshold"] is None:
        best["best_accuracy"] = top_accuracy if order else None
    return best
