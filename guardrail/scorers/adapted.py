"""A folder written by ``guardrail adapt``, used as a scorer reference (``--scorer DIR``).

``DIR/adapt.json`` records the generator and kind of question the guard was adapted to, every
candidate's figures, the choice and the rule that made it, and ``scorer``: what to build at run
time, one of

* ``{"kind": "logprob", "ref": "logprob:SIGNAL", "window": 16, "maps": {...}}``: the raw signal
  with the adapt's Platt maps;
* ``{"kind": "finece", "ref": REF, "maps": {...}}``: a FineCE scorer (the shipped one, or the
  fine-tune in ``DIR/finetuned``: a relative ``ref`` is inside ``DIR``) with the adapt's maps
  on top of its own estimates;
* ``{"kind": "hybrid", "ref": "hybrid:REF", "combiner": "hybrid.json", "maps": {...}}``: the
  refitted combiner (a :class:`~guardrail.scorers.hybrid.HybridCalibration` file in ``DIR``).

``maps`` holds a Platt map per stage (``question``, ``process``, ``outcome``) and ``pooled``:
:class:`AdaptedScorer` applies ``pooled`` to every estimate and, where the caller knows the
stage (the monitor, the evaluation), swaps in that stage's own map
(:class:`~guardrail.calibration.StageCalibration`). Its card names the generator, so
``scorer_mismatch`` is false for that generator and true for any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from guardrail.calibration import STAGES, PlattMap, StageCalibration
from guardrail.errors import GuardrailConfigError
from guardrail.scorers.base import ModelBoundScorer, Scorer, ScoringSession
from guardrail.scorers.card import ScorerCard

__all__ = [
    "ADAPT_FILE",
    "ADAPT_FORMAT",
    "AdaptedScorer",
    "adapted_card",
    "adapted_inner_ref",
    "is_adapted_dir",
    "load_adapted",
    "read_adapt_file",
]

ADAPT_FILE = "adapt.json"
ADAPT_FORMAT = 1
_KINDS = ("logprob", "finece", "hybrid")


def is_adapted_dir(ref: str) -> bool:
    """Whether ``ref`` is a folder written by ``guardrail adapt``."""
    if ref.startswith(("builtin:", "logprob:", "hybrid:", "litellm:")):
        return False
    return (Path(ref).expanduser() / ADAPT_FILE).is_file()


def read_adapt_file(directory: Path) -> dict[str, Any]:
    """``DIR/adapt.json``, checked: a clear error names the file and the bad field."""
    path = directory / ADAPT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GuardrailConfigError(f"{path}: not an adapt file: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != ADAPT_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise GuardrailConfigError(f"{path}: unsupported adapt format {got!r}")
    if not isinstance(data.get("generator"), str) or not data["generator"]:
        raise GuardrailConfigError(f"{path}: generator: expected a non-empty string")
    scorer = data.get("scorer")
    if not isinstance(scorer, dict) or scorer.get("kind") not in _KINDS:
        kind = scorer.get("kind") if isinstance(scorer, dict) else None
        raise GuardrailConfigError(f"{path}: scorer.kind must be one of {_KINDS}, got {kind!r}")
    if not isinstance(scorer.get("ref"), str):
        raise GuardrailConfigError(f"{path}: scorer.ref: expected a string")
    return data


def _maps(data: Mapping[str, Any], where: str) -> StageCalibration:
    maps = data.get("maps") or {}
    if not isinstance(maps, Mapping):
        raise GuardrailConfigError(f"{where}: scorer.maps: expected an object")
    pooled = maps.get("pooled")
    staged = {k: v for k, v in maps.items() if k in STAGES}
    return StageCalibration.from_dict(
        None
        if pooled is None
        else PlattMap.from_dict(pooled, where=f"{where}: scorer.maps.pooled"),
        staged,
        where=f"{where}: scorer.maps",
    )


def adapted_inner_ref(directory: Path, data: Mapping[str, Any] | None = None) -> str:
    """The reference of the scorer the adapt chose (a relative path resolved inside ``DIR``)."""
    scorer = (data or read_adapt_file(directory))["scorer"]
    ref = str(scorer["ref"])
    if scorer["kind"] == "finece" and ref.startswith("./"):
        return str(directory / ref)
    return ref


def adapted_card(ref: str, directory: Path) -> ScorerCard:
    """The card of an adapt folder: generator, data, candidates, the choice and why."""
    data = read_adapt_file(directory)
    comparison = data.get("comparison") or {}
    candidates = comparison.get("candidates") or {}
    table = {
        name: {
            "dev_auroc": entry.get("dev", {}).get("auroc"),
            "test_auroc": entry.get("test", {}).get("auroc"),
            "test_auroc_ci": entry.get("test", {}).get("auroc_ci"),
            "test_brier": entry.get("test", {}).get("brier"),
            "test_ece": entry.get("test", {}).get("ece"),
        }
        for name, entry in candidates.items()
    }
    notes = [f"rule: {comparison.get('rule', '')}"]
    notes.extend(
        f"not fitted: {name}: {why}" for name, why in (comparison.get("not_fitted") or {}).items()
    )
    notes.extend(str(note) for note in data.get("notes") or ())
    return ScorerCard(
        ref=ref,
        kind="adapted",
        summary=(
            f"adapted by `guardrail adapt` to {data['generator']} on {data.get('task')}: "
            f"{comparison.get('choice')} ({comparison.get('why')})"
        ),
        base_model=str(data["scorer"]["ref"]),
        generators=(str(data["generator"]),),
        task_families=(str(data.get("task")),),
        dev={"data": data.get("data"), "split": data.get("split"), "labels": data.get("labels")},
        heldout={
            "choice": comparison.get("choice"),
            "why": comparison.get("why"),
            "candidates": table,
            "best_free_signal_on_test": comparison.get("best_free_signal_on_test"),
            "threshold": comparison.get("threshold"),
        },
        calibration=dict(data["scorer"]),
        notes=tuple(notes),
    )


class _MappedSession:
    """A session whose estimates go through the adapt's pooled map."""

    def __init__(self, inner: ScoringSession, stages: StageCalibration) -> None:
        self._inner = inner
        self._stages = stages

    def append(self, text: str) -> None:
        """Add streamed text."""
        self._inner.append(text)

    def append_token(self, text: str, logprobs: object) -> None:
        """Add a streamed token with its logprobs (for a scorer that reads them)."""
        append = getattr(self._inner, "append_token", None)
        if append is None:
            self._inner.append(text)
        else:
            append(text, logprobs)

    @property
    def truncated_tokens(self) -> int:
        """Tokens the inner session cut from its last input (0 when it does not say)."""
        return int(getattr(self._inner, "truncated_tokens", 0))

    def score(self) -> float:
        """The inner estimate through the pooled map."""
        return _pooled(self._stages, self._inner.score())

    def entropy(self) -> float | None:
        """The inner session's entropy."""
        return self._inner.entropy()

    def close(self) -> None:
        """Close the inner session."""
        self._inner.close()


def _pooled(stages: StageCalibration, value: float) -> float:
    if stages.pooled is None:
        return value
    return float(stages.pooled.apply([min(1.0, max(0.0, value))])[0])


class AdaptedScorer:
    """The scorer an adapt folder names: the chosen scorer, the adapt's maps and its card."""

    def __init__(self, inner: Scorer, stages: StageCalibration, card: ScorerCard) -> None:
        self.inner = inner
        self.stages = stages
        self._card = card

    @property
    def name(self) -> str:
        """The chosen scorer's name."""
        return self.inner.name

    @property
    def card(self) -> ScorerCard:
        """The adapt folder's card (its generator decides ``scorer_mismatch``)."""
        return self._card

    def score(self, question: str, answer: str = "") -> float:
        """The chosen scorer's estimate through the pooled map."""
        return self.score_batch([(question, answer)])[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Estimates through the pooled map."""
        return [_pooled(self.stages, v) for v in self.inner.score_batch(pairs)]

    def open_session(self, question: str) -> _MappedSession:
        """A session of the chosen scorer, its estimates through the pooled map."""
        return _MappedSession(self.inner.open_session(question), self.stages)

    def for_stage(self, confidence: float, stage: str) -> float:
        """``confidence`` re-mapped with ``stage``'s own map (the pooled map's otherwise)."""
        return self.stages.restage(confidence, stage)

    def for_model(self, model: str) -> AdaptedScorer:
        """The same guard with the chosen scorer bound to ``model`` (its combiner, if any)."""
        if isinstance(self.inner, ModelBoundScorer):
            return AdaptedScorer(self.inner.for_model(model), self.stages, self._card)
        return self

    def __repr__(self) -> str:
        return f"AdaptedScorer({self._card.ref!r}, inner={self.inner!r})"


def load_adapted(ref: str, **options: Any) -> AdaptedScorer:
    """Build the scorer of the adapt folder ``ref`` (``options`` go to the chosen scorer)."""
    from guardrail.scorers import create_scorer

    directory = Path(ref).expanduser()
    data = read_adapt_file(directory)
    where = str(directory / ADAPT_FILE)
    scorer = data["scorer"]
    stages = _maps(scorer, where)
    kind = scorer["kind"]
    if kind == "logprob":
        from guardrail.scorers.logprob import LogprobScorer, parse_logprob_ref

        window = scorer.get("window", 16)
        inner: Scorer = LogprobScorer(
            parse_logprob_ref(scorer["ref"]),
            window=int(window),
            calibrations={},
            recompute=options.get("recompute"),
        )
    elif kind == "hybrid":
        combiner = directory / str(scorer.get("combiner", "hybrid.json"))
        inner = create_scorer(scorer["ref"], calibration=str(combiner), **options)
    else:
        options.pop("recompute", None)
        inner = create_scorer(adapted_inner_ref(directory, data), **options)
    adapted = AdaptedScorer(inner, stages, adapted_card(ref, directory))
    return adapted.for_model(str(data["generator"]))
