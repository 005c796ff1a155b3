"""The candidate guards ``guardrail adapt`` fits on the fit split and compares on the same answers.

Two shapes of candidate:

* a **mapped signal**: one input feature with a Platt map per stage fitted on the fit split
  (the question stage of a logprob signal, which has no token yet, is the fit's rate of right
  answers): every ``logprob:SIGNAL``, the shipped FineCE readout (``finece``) and the
  fine-tune's readout (``finetune``);
* a **combiner**: a logistic combiner (:func:`guardrail.combiner.fit_combiner`) of several
  features fitted on the fit split's finished answers: the refitted ``hybrid`` (FineCE and the
  three logprob signals), ``finetune-hybrid`` (the same on the fine-tune) and, as a second tier
  measured but never chosen (it needs ``k`` sampled answers per question at run time),
  ``agreement-hybrid`` (the hybrid plus the agreement of ``k`` sampled short answers).

:data:`COMPLEXITY` orders them from simplest; the selection rule (:mod:`.select`) prefers the
simpler on a tie.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from guardrail.calibration import PlattMap, fit_platt_soft
from guardrail.combiner import HYBRID_FEATURES, LogisticCombiner, fit_combiner
from guardrail.errors import GuardrailConfigError
from guardrail.lab.adapt.rows import Row
from guardrail.token_signals import SIGNAL_NAMES

__all__ = [
    "CANDIDATES",
    "COMPLEXITY",
    "CandidateSpec",
    "FittedCandidate",
    "fit_candidate",
    "fit_candidates",
]

MIN_STAGE_ROWS = 8
"""Fewest fit rows of a stage for its own map; fewer keep the map fitted on every stage."""


@dataclass(frozen=True, slots=True)
class CandidateSpec:
    """A candidate: its name, the features it reads, how it is fitted and whether it can ship.

    ``signal`` names the one feature of a mapped signal (``None`` for a combiner);
    ``question_feature`` is what it reads before any answer token (``None``: the fit's rate).
    """

    name: str
    inputs: tuple[str, ...]
    signal: str | None
    question_feature: str | None
    deployable: bool = True
    description: str = ""


_SIGNAL_SPECS = tuple(
    CandidateSpec(
        f"logprob:{name}",
        (name,),
        name,
        None,
        description=f"the generator's {name} signal with a Platt map per stage",
    )
    for name in SIGNAL_NAMES
)
CANDIDATES: tuple[CandidateSpec, ...] = (
    *_SIGNAL_SPECS,
    CandidateSpec(
        "finece",
        ("finece_outcome",),
        "finece_outcome",
        "finece_question",
        description="the shipped FineCE readout recalibrated per stage on the user's labels",
    ),
    CandidateSpec(
        "hybrid",
        HYBRID_FEATURES,
        None,
        "finece_question",
        description="the hybrid combiner (FineCE and the logprob signals) refitted",
    ),
    CandidateSpec(
        "finetune",
        ("finetuned",),
        "finetuned",
        "finetuned_question",
        description="a short warm-start fine-tune of the shipped scorer on the fit labels, "
        "recalibrated per stage",
    ),
    CandidateSpec(
        "finetune-hybrid",
        ("finetuned_question", "finetuned", *SIGNAL_NAMES),
        None,
        "finetuned_question",
        description="the hybrid combiner on the fine-tune's estimates",
    ),
    CandidateSpec(
        "agreement-hybrid",
        (*HYBRID_FEATURES, "agreement"),
        None,
        "finece_question",
        deployable=False,
        description="second tier: the hybrid plus the agreement of k sampled answers "
        "(k generations per question at run time; measured, never chosen)",
    ),
)
COMPLEXITY: dict[str, int] = {spec.name: rank for rank, spec in enumerate(CANDIDATES)}
"""Rank of each candidate from simplest (the three logprob signals share the simplest rank)."""
for _spec in _SIGNAL_SPECS:
    COMPLEXITY[_spec.name] = 0


@dataclass(frozen=True, slots=True)
class FittedCandidate:
    """A candidate fitted on the fit split: per-stage maps, or a combiner and a question map."""

    spec: CandidateSpec
    maps: Mapping[str, PlattMap] = field(default_factory=dict)
    combiner: LogisticCombiner | None = None
    fit: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The candidate's name."""
        return self.spec.name

    def predict(self, row: Row) -> float | None:
        """The candidate's confidence for ``row`` (``None``: a feature it needs is missing)."""
        if row.stage == "question":
            return self._question(row)
        if self.combiner is not None:
            if not all(name in row.features for name in self.combiner.features):
                return None
            return self.combiner.predict(row.features)
        assert self.spec.signal is not None
        value = row.features.get(self.spec.signal)
        platt = self.maps.get(row.stage) or self.maps.get("pooled")
        if value is None or platt is None:
            return None
        return float(platt.apply([_clip(value)])[0])

    def _question(self, row: Row) -> float | None:
        platt = self.maps.get("question")
        if platt is None:
            return None
        if self.spec.question_feature is None:
            return float(platt.apply([0.5])[0])  # the constant map: the fit's rate
        value = row.features.get(self.spec.question_feature)
        return None if value is None else float(platt.apply([_clip(value)])[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the maps by stage, the combiner, and how the fit went."""
        return {
            "name": self.name,
            "maps": {stage: platt.to_dict() for stage, platt in self.maps.items()},
            "combiner": None if self.combiner is None else self.combiner.to_dict(),
            "fit": dict(self.fit),
        }


def _clip(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _constant(rate: float) -> PlattMap:
    rate = min(1.0 - 1e-6, max(1e-6, rate))
    return PlattMap(coef=0.0, intercept=math.log(rate) - math.log1p(-rate))


def _platt(values: Sequence[float], targets: Sequence[float]) -> PlattMap:
    if len(set(targets)) < 2:
        return _constant(sum(targets) / len(targets))
    return fit_platt_soft([_clip(v) for v in values], list(targets))


def _stage_maps(
    spec: CandidateSpec, rows: Sequence[Row]
) -> tuple[dict[str, PlattMap], dict[str, Any]]:
    assert spec.signal is not None
    maps: dict[str, PlattMap] = {}
    fit: dict[str, Any] = {}
    scored = [r for r in rows if r.stage != "question" and spec.signal in r.features]
    if len({r.target for r in scored}) < 2:
        raise GuardrailConfigError(
            f"{spec.name}: the fit split needs answers with different targets, got "
            f"{len(scored)} answer(s)"
        )
    maps["pooled"] = _platt([r.features[spec.signal] for r in scored], [r.target for r in scored])
    for stage in ("process", "outcome"):
        own = [r for r in scored if r.stage == stage]
        fit[stage] = len(own)
        if len(own) >= MIN_STAGE_ROWS:
            maps[stage] = _platt([r.features[spec.signal] for r in own], [r.target for r in own])
    asked = [r for r in rows if r.stage == "question"]
    if spec.question_feature is None:
        outcomes = [r.target for r in rows if r.stage == "outcome"]
        targets = [r.target for r in asked] or outcomes
        maps["question"] = _constant(sum(targets) / len(targets))
    else:
        feature = spec.question_feature
        usable = [r for r in asked if feature in r.features]
        if len(usable) >= MIN_STAGE_ROWS:
            maps["question"] = _platt(
                [r.features[feature] for r in usable], [r.target for r in usable]
            )
        fit["question"] = len(usable)
    return maps, fit


def fit_candidate(spec: CandidateSpec, rows: Sequence[Row]) -> FittedCandidate:
    """Fit ``spec`` on the fit split's rows; an error says why it cannot be fitted."""
    missing = [n for n in spec.inputs if not any(n in r.features for r in rows)]
    if missing:
        raise GuardrailConfigError(f"{spec.name}: no fit row has {', '.join(missing)}")
    if spec.signal is not None:
        maps, fit = _stage_maps(spec, rows)
        return FittedCandidate(spec, maps, None, fit)
    answers = [
        r for r in rows if r.stage == "outcome" and all(n in r.features for n in spec.inputs)
    ]
    labels = [r.correct for r in answers]
    if len(set(labels)) < 2:
        raise GuardrailConfigError(
            f"{spec.name}: a combiner needs right and wrong fit answers; got "
            f"{labels.count(True)} right and {labels.count(False)} wrong"
        )
    combiner = fit_combiner([r.features for r in answers], labels, spec.inputs)
    maps = {}
    question = spec.question_feature
    asked = [r for r in rows if r.stage == "question" and question in r.features]
    if question is not None and len(asked) >= MIN_STAGE_ROWS:
        maps["question"] = _platt([r.features[question] for r in asked], [r.target for r in asked])
    return FittedCandidate(spec, maps, combiner, {"outcome": len(answers)})


def fit_candidates(
    rows: Sequence[Row], specs: Sequence[CandidateSpec] = CANDIDATES
) -> tuple[list[FittedCandidate], dict[str, str]]:
    """Fit every candidate whose features the rows carry; the others with the reason they fail."""
    fitted: list[FittedCandidate] = []
    skipped: dict[str, str] = {}
    for spec in specs:
        try:
            fitted.append(fit_candidate(spec, rows))
        except GuardrailConfigError as exc:
            skipped[spec.name] = str(exc)
    return fitted, skipped
