"""The hybrid estimate: FineCE's readout plus the generator's logprob signals, combined.

In the domain it was trained on, the FineCE readout ranks answers far better than the
generator's own logprob signals; outside it, those signals can beat the readout. The hybrid puts
both into one small logistic combiner (:class:`guardrail.combiner.LogisticCombiner`) over the
logits of FineCE's question and outcome estimates and of the token baselines
(:data:`HYBRID_FEATURES`), so that it can lean on whichever carries the signal.

The evaluation measures it without leakage by cross-fitting over its two question halves: the
combiner fitted on the ``dev`` answers scores the ``test`` answers and the one fitted on
``test`` scores ``dev``, so every answer's hybrid value comes from a combiner that never saw
its question. The result enters the report as the method ``hybrid`` beside FineCE and the
baselines, and ``hybrid`` in the report holds both folds' coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guardrail.combiner import HYBRID_FEATURES, LogisticCombiner, fit_combiner
from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.records import AnswerRecord

__all__ = ["HYBRID_FEATURES", "crossfit_hybrid", "hybrid_features"]


def hybrid_features(record: AnswerRecord) -> dict[str, float] | None:
    """The combiner's inputs for one answer (None when a logprob signal is missing)."""
    features = {
        "finece_question": record.positions.question,
        "finece_outcome": record.positions.outcome,
    }
    for name in HYBRID_FEATURES[2:]:
        value = record.baselines.get(name)
        if value is None:
            return None
        features[name] = float(value)
    return features


def crossfit_hybrid(
    records: Sequence[AnswerRecord],
) -> tuple[list[float | None], dict[str, Any]]:
    """Cross-fitted hybrid values (one per record, None without features) and the fit's info.

    Raises :class:`GuardrailConfigError` with the reason when a half has no answers with
    features, or only right or only wrong ones (no combiner can be fitted on it).
    """
    features = [hybrid_features(r) for r in records]
    values: list[float | None] = [None] * len(records)
    folds: dict[str, Any] = {}
    for fit_on, apply_to in (("dev", "test"), ("test", "dev")):
        rows = [
            (f, r.answer.correct)
            for f, r in zip(features, records, strict=True)
            if f is not None and r.split == fit_on
        ]
        if not rows or len({label for _, label in rows}) < 2:
            raise GuardrailConfigError(
                f"no hybrid: the {fit_on} half has {len(rows)} answers with logprob features, "
                "and needs right and wrong ones"
            )
        combiner: LogisticCombiner = fit_combiner(
            [f for f, _ in rows], [label for _, label in rows], HYBRID_FEATURES
        )
        folds[f"fitted_on_{fit_on}"] = {**combiner.to_dict(), "answers": len(rows)}
        for index, (f, r) in enumerate(zip(features, records, strict=True)):
            if f is not None and r.split == apply_to:
                values[index] = combiner.predict(f)
    return values, {"features": list(HYBRID_FEATURES), "folds": folds}
