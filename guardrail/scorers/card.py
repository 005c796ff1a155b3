"""Scorer cards: what a scorer was trained (or calibrated) on, and whether it fits a model.

A FineCE confidence is a property of a generator on a kind of question, so a scorer carries a
:class:`ScorerCard`: the generators whose answers labelled its training data (or, for a
``logprob:`` scorer, the models it has calibration maps for), the task families, and its dev
and held-out figures. :func:`card_for_ref` builds the card of any scorer reference without
loading a model; ``guardrail scorer info REF`` prints it.

When the guarded model is not among the card's generators the scorer is judging answers of a
model it never saw: :func:`check_model` says so (``True``), warns once per scorer, model and
process (:class:`ScorerMismatchWarning`), and the runtime writes ``scorer_mismatch`` on every
checkpoint event, into the audit log and for the policy condition ``scorer_mismatch``. It is
``None`` (not checked) when the scorer has no card or the guarded model has no name.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from guardrail.scorers.base import ModelBoundScorer, Scorer

__all__ = [
    "CardedScorer",
    "ScorerCard",
    "ScorerMismatchWarning",
    "card_for_artifact",
    "card_from_data",
    "card_of",
    "check_model",
    "entry_for_model",
    "model_key",
    "record_heldout",
    "same_model",
    "scorer_for_model",
]

T = TypeVar("T")

CardKind = Literal["finece", "value_head", "untrained", "logprob", "hybrid", "adapted"]


class ScorerMismatchWarning(UserWarning):
    """The guarded model is not among the generators the scorer was trained or calibrated on."""


def model_key(name: str) -> str:
    """The comparable part of a model name: no provider path, no ``builtin:``, lower case."""
    text = name.strip()
    for prefix in ("litellm:", "builtin:"):
        text = text.removeprefix(prefix)
    text = text.rsplit("/", 1)[-1]
    return text.removeprefix("builtin:").lower()


def _names(model: str) -> set[str]:
    """Keys of ``model`` and, for a built-in model, of its aliases."""
    from guardrail.models.builtin import BUILTIN_MODELS

    keys = {model_key(model)}
    spec = BUILTIN_MODELS.get(model_key(model))
    if spec is not None:
        keys.update(model_key(alias) for alias in spec.aliases)
    return keys


def same_model(a: str, b: str) -> bool:
    """Whether two model names denote the same model (provider prefixes and aliases aside)."""
    return bool(_names(a) & _names(b))


def entry_for_model(entries: Mapping[str, T], model: str) -> T | None:
    """The entry of ``entries`` (keyed by model name) for ``model``, or ``None``.

    Its own name first, then any name of the same model (:func:`same_model`); an empty or
    unknown model has none.
    """
    if not model:
        return None
    if model in entries:
        return entries[model]
    return next((entry for name, entry in entries.items() if same_model(model, name)), None)


@dataclass(frozen=True, slots=True)
class ScorerCard:
    """What a scorer is and what it was measured on.

    ``generators`` lists the models whose answers trained (``finece``, ``value_head``) or
    calibrated (``logprob``) the scorer; ``None`` when the artifact does not record them.
    ``heldout`` holds held-out evaluation figures (``{}``: none recorded), ``dev`` the dev-split
    figures of training.
    """

    ref: str
    kind: CardKind
    summary: str
    base_model: str | None = None
    generators: tuple[str, ...] | None = ()
    task_families: tuple[str, ...] = ()
    dev: Mapping[str, Any] = field(default_factory=dict)
    heldout: Mapping[str, Any] = field(default_factory=dict)
    calibration: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()

    def covers(self, model: str) -> bool | None:
        """Whether ``model`` is among :attr:`generators`; ``None`` when either is unknown.

        A ``logprob`` or ``hybrid`` scorer guarding an unnamed model applies no calibration map
        or combiner: ``False``.
        """
        if not model and self.kind in ("logprob", "hybrid"):
            return False
        if not model or self.generators is None:
            return None
        return any(same_model(model, generator) for generator in self.generators)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {
            "ref": self.ref,
            "kind": self.kind,
            "summary": self.summary,
            "base_model": self.base_model,
            "generators": None if self.generators is None else list(self.generators),
            "task_families": list(self.task_families),
            "dev": dict(self.dev),
            "heldout": dict(self.heldout),
            "calibration": None if self.calibration is None else dict(self.calibration),
            "notes": list(self.notes),
        }

    def format(self) -> str:
        """A human-readable card."""
        lines = [f"{self.ref}  ({self.kind})", f"  {self.summary}"]
        if self.base_model:
            lines.append(f"  base model:     {self.base_model}")
        if self.generators is None:
            lines.append("  generators:     not recorded")
        else:
            lines.append(f"  generators:     {', '.join(self.generators) or 'none'}")
        if self.task_families:
            lines.append(f"  task families:  {', '.join(self.task_families)}")
        sections = (
            ("dev figures", self.dev),
            ("held-out figures", self.heldout),
            ("calibration", self.calibration or {}),
        )
        for title, figures in sections:
            if figures:
                lines.append(f"  {title}:")
                lines.extend(_nested(figures, "    "))
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _nested(figures: Mapping[str, Any], indent: str) -> list[str]:
    """``key: value`` lines, a mapping's entries one level deeper (a flat one on one line)."""
    lines: list[str] = []
    for key, value in figures.items():
        if isinstance(value, Mapping) and any(isinstance(v, Mapping) for v in value.values()):
            lines.append(f"{indent}{key}:")
            lines.extend(_nested(value, indent + "  "))
        elif isinstance(value, Mapping) and len(value) > 3:
            lines.append(f"{indent}{key}:")
            lines.extend(f"{indent}  {k}: {_fmt(v)}" for k, v in value.items())
        elif isinstance(value, Mapping):
            lines.append(f"{indent}{key}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()))
        else:
            lines.append(f"{indent}{key}: {_fmt(value)}")
    return lines


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


@runtime_checkable
class CardedScorer(Protocol):
    """A scorer that carries its card (``None``: unknown)."""

    @property
    def card(self) -> ScorerCard | None:
        """The scorer's card."""
        ...


def card_of(scorer: object) -> ScorerCard | None:
    """The card a scorer carries, if it carries one."""
    if isinstance(scorer, CardedScorer):
        return scorer.card
    return None


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def check_model(scorer: object, model: str) -> bool | None:
    """``True`` when ``model`` is not among the scorer's generators (warned once per process).

    ``None`` when the scorer carries no card, its card records no generators or ``model`` is
    empty (but for a ``logprob:`` scorer, which then applies no map: ``True``); ``False`` when
    the scorer was trained or calibrated on ``model``'s answers.
    """
    card = card_of(scorer)
    if card is None:
        return None
    covered = card.covers(model)
    if covered is None:
        return None
    if covered:
        return False
    with _warned_lock:
        first = (card.ref, model) not in _warned
        _warned.add((card.ref, model))
    if first:
        seen = ", ".join(card.generators or ()) or "no generator (untrained)"
        advice = (
            "run `guardrail calibrate` on graded answers of this model"
            if card.kind in ("logprob", "hybrid")
            else "its confidences are out of domain; build labels with `guardrail data build "
            "--generator <model>` and train one (`guardrail train`), or use a logprob scorer"
        )
        which = repr(model) if model else "an unnamed model (no calibration map applies)"
        warnings.warn(
            f"scorer {card.ref} was not trained or calibrated on {which} (it knows: {seen}); "
            f"{advice}. Events carry scorer_mismatch=true; a policy can match "
            "`scorer_mismatch: true`.",
            ScorerMismatchWarning,
            stacklevel=3,
        )
    return True


def scorer_for_model(scorer: Scorer, model: str) -> tuple[Scorer, bool | None]:
    """The scorer to use on ``model``'s answers, and whether it mismatches (:func:`check_model`).

    A :class:`~guardrail.scorers.base.ModelBoundScorer` (a ``logprob:`` scorer) is bound to the
    model first, so that it applies that model's calibration map.
    """
    if model and isinstance(scorer, ModelBoundScorer):
        scorer = scorer.for_model(model)
    return scorer, check_model(scorer, model)


def card_for_artifact(ref: str, directory: Path) -> ScorerCard:
    """The card of a trained scorer artifact, from its ``finece.json``."""
    from guardrail.scorers.artifact import read_metadata

    meta = read_metadata(directory)
    recorded = meta.get("card")
    card: Mapping[str, Any] = recorded if isinstance(recorded, Mapping) else {}
    generators = card.get("generators")
    families = card.get("task_families")
    notes: list[str] = []
    if not isinstance(generators, list):
        generators, families = _from_training_data(meta, directory)
        if generators is None:
            notes.append("finece.json records no generators: scorer_mismatch cannot be checked")
    kind: CardKind = "value_head" if meta.get("kind") == "value_head" else "finece"
    heldout = card.get("heldout")
    return ScorerCard(
        ref=ref,
        kind=kind,
        summary=f"trained FineCE scorer ({meta.get('kind', 'ift')}, {meta.get('steps', '?')} "
        "steps)",
        base_model=str(meta["base_model"]) if meta.get("base_model") else None,
        generators=None if generators is None else tuple(map(str, generators)),
        task_families=tuple(map(str, families or ())),
        dev=dict(meta.get("dev_metrics") or {}),
        heldout=dict(heldout) if isinstance(heldout, Mapping) else {},
        calibration=_calibration_entry(meta),
        notes=tuple(notes),
    )


def _calibration_entry(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pooled map, with the per-stage maps under ``by_stage`` when the artifact has them."""
    pooled = meta.get("calibration")
    if not isinstance(pooled, dict):
        return None
    staged = meta.get("calibration_by_stage")
    return {**pooled, "by_stage": dict(staged)} if isinstance(staged, dict) and staged else pooled


def _from_training_data(
    meta: Mapping[str, Any], directory: Path
) -> tuple[list[str] | None, list[str]]:
    """Generators and tasks from the meta lines of the training data files, when present."""
    training = meta.get("training")
    paths = training.get("data") if isinstance(training, Mapping) else None
    if not isinstance(paths, list) or not paths:
        return None, []
    generators: list[str] = []
    families: list[str] = []
    for entry in paths:
        path = Path(str(entry))
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, directory / path]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            return None, []
        settings = data_settings(found)
        if settings is None:
            return None, []
        generators.append(str(settings.get("generator", "")))
        families.append(str(settings.get("task", "")))
    return sorted(set(filter(None, generators))), sorted(set(filter(None, families)))


def data_settings(path: Path) -> dict[str, Any] | None:
    """The build settings on the first (``meta``) line of a label file, if it has one."""
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return None
    if isinstance(record, dict) and record.get("type") == "meta":
        config = record.get("config")
        return config if isinstance(config, dict) else None
    return None


_HELDOUT_KEYS = (
    "finece_outcome_auroc",
    "finece_outcome_ece",
    "finece_p1_auroc",
    "finece_within_question_auroc",
    "best_baseline_outcome_auroc",
    "base_accuracy",
    "accepted_accuracy_at_0_8",
)


def record_heldout(directory: Path, report: Path) -> dict[str, Any]:
    """Record a ``guardrail eval`` report's summary in the artifact's card; return the figures.

    Held-out figures are kept per task and generator (``"synthetic answers of MODEL"``), so a
    scorer can carry its figures on the answers of several generators.
    """
    from guardrail.errors import GuardrailConfigError
    from guardrail.scorers.artifact import read_metadata, write_metadata

    meta = read_metadata(directory)
    try:
        data = json.loads(report.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GuardrailConfigError(f"{report}: not a JSON evaluation report: {exc}") from exc
    summary = data.get("summary") if isinstance(data, dict) else None
    info = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(summary, dict) or not isinstance(info, dict):
        raise GuardrailConfigError(f"{report}: no 'summary' and 'meta' (a `guardrail eval` JSON?)")
    figures: dict[str, Any] = {k: summary[k] for k in _HELDOUT_KEYS if k in summary}
    figures.update(report=str(report), answers=info.get("answers"))  # the summary is over all
    card = dict(meta.get("card") or {})
    heldout = dict(card.get("heldout") or {})
    heldout[f"{info.get('task')} answers of {info.get('generator')}"] = figures
    card["heldout"] = heldout
    meta["card"] = card
    meta.pop("format", None)
    write_metadata(directory, meta)
    return figures


def card_from_data(paths: list[str] | list[Path] | tuple[str | Path, ...]) -> dict[str, Any]:
    """The ``card`` section the trainer writes: generators and task families of its data.

    Read from each label file's ``meta`` line; a file without one leaves the generators
    unrecorded (``None``), so a mismatch is never claimed on a guess.
    """
    generators: set[str] = set()
    families: set[str] = set()
    for entry in paths:
        settings = data_settings(Path(entry))
        if settings is None or not settings.get("generator"):
            return {"generators": None, "task_families": sorted(families)}
        generators.add(str(settings["generator"]))
        if settings.get("task"):
            families.add(str(settings["task"]))
    return {"generators": sorted(generators), "task_families": sorted(families)}
