"""Rule conditions (the ``when:`` block of a rule) and their evaluation.

YAML form
---------
``when:`` is a mapping whose keys are condition kinds; every key present must hold (logical
*and*). Each key takes a short scalar form or a full mapping form::

    when:
      stage: process                      # or [process, outcome]; tool_call: a tool call
      tool: [send_email, "delete_*"]      # a tool_call checkpoint's tool (globs, any may match)
      confidence_below: 0.3               # or {value: 0.3, source: raw}
      confidence_above: 0.1               # or {value: 0.1, source: raw}
      drop_from_max: 0.25                 # or {delta: 0.25, source: raw}
      consecutive_low: {count: 2, below: 0.3}   # source: revised by default
      min_tokens: 40                      # answer tokens seen at this checkpoint
      min_fraction_seen: 0.5              # token_index / RunContext.max_tokens
      attempt: 2                          # or {min: 2, max: 3}
      model: "gpt-4o*"                    # glob, or a list of globs (any may match)
      tags: [math]                        # all of; or {all_of: [..], any_of: [..], none_of: [..]}
      metadata: {tenant: acme, tier: [gold, silver]}   # equal, or one of a list
      scorer_mismatch: true               # the guarded model is not among the scorer's
                                          # generators (false: it is; unknown: neither holds)
      calibration_drift: 0.02             # the live calibration error of the last decided
                                          # review items is over 0.02 beyond its noise band
                                          # ({margin, min_items}; guardrail.policy.drift)
      all: [{...}, {...}]                 # every sub-condition holds
      any: [{...}, {...}]                 # at least one holds
      not: {...}                          # the sub-condition does not hold

``source`` picks the raw scorer estimate (``raw``) or the Backward-Confidence-Integration
revision (``revised``, the default; equal to the raw value while BCI is the identity). Comparisons
are strict (``below`` is ``<``, ``above`` is ``>``); ``drop_from_max`` and ``consecutive_low``
look at the earlier checkpoints of the same answer passed to the engine as ``history``
(process- and outcome-level ones: the question-level estimate comes before any answer text).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self, assert_never

from pydantic import (
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from guardrail.events import CheckpointEvent, Stage
from guardrail.policy.context import RunContext
from guardrail.policy.drift import (
    CalibrationDrift,
    CalibrationDriftField,
    check_calibration_drift,
)
from guardrail.policy.fields import (
    Delta,
    NonEmptyStr,
    PolicyModel,
    Probability,
    before,
    fmt,
    is_number,
    policy_error,
    scalar_or_list,
    shorthand,
)

__all__ = [
    "AttemptCondition",
    "CalibrationDrift",
    "Condition",
    "ConfidenceAbove",
    "ConfidenceBelow",
    "ConsecutiveLow",
    "DropFromMax",
    "Facts",
    "MetadataCondition",
    "MinFractionSeen",
    "MinTokens",
    "ModelCondition",
    "ScorerMismatchCondition",
    "StageCondition",
    "TagsCondition",
    "ToolCondition",
    "Verdict",
    "evaluate",
]

StageName = Literal["question", "process", "outcome", "tool_call"]
ConfidenceSource = Literal["raw", "revised"]
MetaScalar = str | int | float | bool


# ----------------------------------------------------------------------------- atoms
class StageCondition(PolicyModel):
    """The checkpoint's stage is one of ``stages``."""

    stages: list[StageName] = Field(min_length=1)


class ConfidenceBelow(PolicyModel):
    """The confidence (``source``) is strictly below ``value``."""

    value: Probability
    source: ConfidenceSource = "revised"


class ConfidenceAbove(PolicyModel):
    """The confidence (``source``) is strictly above ``value``."""

    value: Probability
    source: ConfidenceSource = "revised"


class DropFromMax(PolicyModel):
    """The confidence fell at least ``delta`` below the running maximum of this answer."""

    delta: Delta
    source: ConfidenceSource = "revised"


class ConsecutiveLow(PolicyModel):
    """The last ``count`` checkpoints (this one included) all had confidence below ``below``."""

    count: int = Field(ge=1, le=64)
    below: Probability
    source: ConfidenceSource = "revised"


class MinTokens(PolicyModel):
    """At least ``tokens`` answer tokens were seen when the checkpoint was scored."""

    tokens: int = Field(ge=0)


class MinFractionSeen(PolicyModel):
    """At least ``fraction`` of ``RunContext.max_tokens`` was seen (outcome counts as 1.0)."""

    fraction: Probability


class AttemptCondition(PolicyModel):
    """The run's attempt number lies in ``[min, max]`` (either bound may be left out)."""

    min: int | None = Field(default=None, ge=1)
    max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min is None and self.max is None:
            raise policy_error("attempt needs 'min', 'max' or both", expected="{min: N, max: M}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise policy_error(f"attempt min {self.min} is greater than max {self.max}")
        return self


class ModelCondition(PolicyModel):
    """The generator's model name matches one of the glob ``patterns`` (case-sensitive)."""

    patterns: list[NonEmptyStr] = Field(min_length=1)


class ToolCondition(PolicyModel):
    """The checkpoint judges a call of a tool whose name matches one of the glob ``patterns``.

    Holds only at ``tool_call`` checkpoints (an answer's checkpoints call no tool).
    """

    patterns: list[NonEmptyStr] = Field(min_length=1)


class TagsCondition(PolicyModel):
    """The run has every tag of ``all_of``, at least one of ``any_of`` and none of ``none_of``."""

    all_of: list[NonEmptyStr] = Field(default_factory=list)
    any_of: list[NonEmptyStr] = Field(default_factory=list)
    none_of: list[NonEmptyStr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not (self.all_of or self.any_of or self.none_of):
            raise policy_error(
                "tags needs at least one tag",
                expected="a list of tags or {all_of, any_of, none_of}",
            )
        return self


class MetadataCondition(PolicyModel):
    """Every key of ``equals`` is in the run metadata with that value (a list: one of them)."""

    equals: dict[NonEmptyStr, MetaScalar | list[MetaScalar]] = Field(min_length=1)

    @model_serializer(mode="plain")
    def _as_mapping(self) -> dict[str, MetaScalar | list[MetaScalar]]:
        # written as ``metadata: {key: value}`` in YAML, so dumped the same way
        return dict(self.equals)


class ScorerMismatchCondition(PolicyModel):
    """The checkpoint's ``scorer_mismatch`` is ``value`` (an unknown one matches neither).

    ``scorer_mismatch`` is true when the guarded model is not among the generators the scorer
    was trained or calibrated on (:mod:`guardrail.scorers.card`).
    """

    value: bool

    @model_serializer(mode="plain")
    def _as_bool(self) -> bool:
        # written as ``scorer_mismatch: true`` in YAML, so dumped the same way
        return self.value


def _wrap_metadata(value: object) -> object:
    if value is None:
        raise policy_error("'metadata' needs a value, got null", expected="a mapping of key: value")
    return {"equals": value}


def _listy(key: str, field: str, expected: str) -> Callable[[object], object]:
    """Expand ``key: item`` and ``key: [items]`` to ``key: {field: [items]}``."""
    refuse = shorthand(key, field, lambda _: False, expected)

    def wrap(value: object) -> object:
        if isinstance(value, str | list):
            return {field: scalar_or_list(value)}
        return refuse(value)  # a mapping passes through; anything else is refused

    return wrap


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _wrap_attempt(value: object) -> object:
    if _is_int(value):
        return {"min": value, "max": value}
    return shorthand("attempt", "min", lambda _: False, "an attempt number or {min, max}")(value)


_SRC = "a number in [0, 1] or a mapping"
_Count = Annotated[int, Field(ge=0)]
_Attempt = Annotated[int, Field(ge=1)]
ConfidenceBelowField = Annotated[
    ConfidenceBelow | None,
    before(shorthand("confidence_below", "value", is_number, _SRC), Probability | ConfidenceBelow),
]
ConfidenceAboveField = Annotated[
    ConfidenceAbove | None,
    before(shorthand("confidence_above", "value", is_number, _SRC), Probability | ConfidenceAbove),
]
DropFromMaxField = Annotated[
    DropFromMax | None,
    before(shorthand("drop_from_max", "delta", is_number, _SRC), Delta | DropFromMax),
]
ConsecutiveLowField = Annotated[
    ConsecutiveLow | None,
    before(shorthand("consecutive_low", "count", lambda _: False, "a mapping"), ConsecutiveLow),
]
MinTokensField = Annotated[
    MinTokens | None,
    before(shorthand("min_tokens", "tokens", _is_int, "an integer >= 0"), _Count | MinTokens),
]
MinFractionSeenField = Annotated[
    MinFractionSeen | None,
    before(
        shorthand("min_fraction_seen", "fraction", is_number, "a number in [0, 1]"),
        Probability | MinFractionSeen,
    ),
]
StageField = Annotated[
    StageCondition | None,
    before(
        _listy("stage", "stages", "a stage name or a list of them"),
        StageName | list[StageName] | StageCondition,
    ),
]
AttemptField = Annotated[
    AttemptCondition | None, before(_wrap_attempt, _Attempt | AttemptCondition)
]
ModelField = Annotated[
    ModelCondition | None,
    before(
        _listy("model", "patterns", "a glob or a list of globs"),
        str | list[str] | ModelCondition,
    ),
]
ToolField = Annotated[
    ToolCondition | None,
    before(
        _listy("tool", "patterns", "a tool name glob or a list of them"),
        str | list[str] | ToolCondition,
    ),
]
TagsField = Annotated[
    TagsCondition | None,
    before(_listy("tags", "all_of", "a list of tags"), str | list[str] | TagsCondition),
]
ScorerMismatchField = Annotated[
    ScorerMismatchCondition | None,
    before(
        shorthand("scorer_mismatch", "value", lambda v: isinstance(v, bool), "true or false"),
        bool,
    ),
]
MetadataField = Annotated[
    MetadataCondition | None,
    before(_wrap_metadata, dict[str, MetaScalar | list[MetaScalar]]),
]

Atom = (
    StageCondition
    | ConfidenceBelow
    | ConfidenceAbove
    | DropFromMax
    | ConsecutiveLow
    | MinTokens
    | MinFractionSeen
    | AttemptCondition
    | ModelCondition
    | TagsCondition
    | MetadataCondition
    | ScorerMismatchCondition
    | CalibrationDrift
    | ToolCondition
)


class Condition(PolicyModel):
    """A rule's ``when:`` block: every key present must hold. See the module docstring.

    Dumps (``model_dump``) use the YAML key names and leave out the keys that are not set, so
    a dumped condition validates again.
    """

    model_config = ConfigDict(serialize_by_alias=True)

    stage: StageField = None
    confidence_below: ConfidenceBelowField = None
    confidence_above: ConfidenceAboveField = None
    drop_from_max: DropFromMaxField = None
    consecutive_low: ConsecutiveLowField = None
    min_tokens: MinTokensField = None
    min_fraction_seen: MinFractionSeenField = None
    attempt: AttemptField = None
    model: ModelField = None
    tags: TagsField = None
    metadata: MetadataField = None
    scorer_mismatch: ScorerMismatchField = None
    calibration_drift: CalibrationDriftField = None
    tool: ToolField = None
    all_: list[Condition] | None = Field(default=None, alias="all", min_length=1)
    any_: list[Condition] | None = Field(default=None, alias="any", min_length=1)
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.atoms() and self.all_ is None and self.any_ is None and self.not_ is None:
            raise policy_error(
                "a condition needs at least one key",
                expected="one of " + ", ".join(sorted(_condition_keys())),
            )
        return self

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}

    def atoms(self) -> list[Atom]:
        """The simple conditions set on this block, in declaration order."""
        values = (
            self.stage,
            self.confidence_below,
            self.confidence_above,
            self.drop_from_max,
            self.consecutive_low,
            self.min_tokens,
            self.min_fraction_seen,
            self.attempt,
            self.model,
            self.tags,
            self.metadata,
            self.scorer_mismatch,
            self.calibration_drift,
            self.tool,
        )
        return [value for value in values if value is not None]


def _condition_keys() -> list[str]:
    return [info.alias or name for name, info in Condition.model_fields.items()]


# ------------------------------------------------------------------------ evaluation
@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a condition may look at: the event, the earlier events and the run context."""

    event: CheckpointEvent
    history: tuple[CheckpointEvent, ...]
    context: RunContext

    def value(self, source: ConfidenceSource, event: CheckpointEvent | None = None) -> float:
        """The raw or revised confidence of ``event`` (default: the current event)."""
        chosen = self.event if event is None else event
        return chosen.confidence if source == "raw" else chosen.revised

    def series(self, source: ConfidenceSource) -> list[float]:
        """Confidences of this answer's checkpoints so far, oldest first, ending with this one.

        The question-level estimate (scored before any answer text) is left out unless it is
        the current event, and so are non-finite values of earlier events.
        """
        values = [
            self.value(source, past) for past in self.history if past.stage is not Stage.QUESTION
        ]
        return [v for v in values if math.isfinite(v)] + [self.value(source)]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a condition holds and the human-readable reasons why (or why not)."""

    holds: bool
    reasons: tuple[str, ...]


# Tolerance for drop_from_max: 0.7 - 0.4 must count as a drop of 0.3.
_EPS = 1e-9


def evaluate(condition: Condition, facts: Facts) -> Verdict:
    """Evaluate a ``when:`` block. All keys must hold; reasons list what held (or what failed)."""
    reasons: list[str] = []
    for atom in condition.atoms():
        verdict = _check_atom(atom, facts)
        if not verdict.holds:
            return verdict
        reasons.extend(verdict.reasons)
    if condition.all_ is not None:
        for sub in condition.all_:
            verdict = evaluate(sub, facts)
            if not verdict.holds:
                return verdict
            reasons.extend(verdict.reasons)
    if condition.any_ is not None:
        verdict = _any(condition.any_, facts)
        if not verdict.holds:
            return verdict
        reasons.extend(verdict.reasons)
    if condition.not_ is not None:
        inner = evaluate(condition.not_, facts)
        text = "not (" + "; ".join(inner.reasons) + ")"
        if inner.holds:
            return Verdict(False, (text,))
        reasons.append(text)
    return Verdict(True, tuple(reasons))


def _any(conditions: Sequence[Condition], facts: Facts) -> Verdict:
    failed: list[str] = []
    for sub in conditions:
        verdict = evaluate(sub, facts)
        if verdict.holds:
            return verdict
        failed.extend(verdict.reasons)
    return Verdict(False, ("none of: " + "; ".join(failed),))


def _check_atom(atom: Atom, facts: Facts) -> Verdict:
    match atom:
        case ConfidenceBelow() | ConfidenceAbove() | DropFromMax() | ConsecutiveLow():
            return _check_confidence(atom, facts)
        case StageCondition() | MinTokens() | MinFractionSeen():
            return _check_progress(atom, facts)
        case AttemptCondition() | ModelCondition() | TagsCondition() | MetadataCondition():
            return _check_run(atom, facts)
        case ScorerMismatchCondition():
            return _check_mismatch(atom, facts)
        case ToolCondition():
            return _check_tool(atom, facts)
        case CalibrationDrift():
            holds, reason = check_calibration_drift(atom, facts.context.calibration)
            return Verdict(holds, (reason,))
        case _:
            assert_never(atom)


def _check_tool(atom: ToolCondition, facts: Facts) -> Verdict:
    tool = facts.context.tool
    if facts.event.stage is not Stage.TOOL_CALL or tool is None:
        return Verdict(False, ("no tool call at this checkpoint",))
    ok = any(fnmatch.fnmatchcase(tool, pattern) for pattern in atom.patterns)
    pats = ", ".join(atom.patterns)
    return Verdict(ok, (f"tool {tool!r} {'matches' if ok else 'not in'} {pats}",))


def _check_mismatch(atom: ScorerMismatchCondition, facts: Facts) -> Verdict:
    actual = facts.event.scorer_mismatch
    if actual is None:
        return Verdict(False, ("scorer mismatch is unknown (no scorer card or no model name)",))
    state = "was not" if actual else "was"
    text = f"the scorer {state} trained on the model {facts.context.model!r}"
    return Verdict(actual == atom.value, (text,))


def _check_confidence(
    atom: ConfidenceBelow | ConfidenceAbove | DropFromMax | ConsecutiveLow, facts: Facts
) -> Verdict:
    current = facts.value(atom.source)
    label = f"{atom.source} {facts.event.stage.value} confidence {fmt(current)}"
    match atom:
        case ConfidenceBelow():
            ok = current < atom.value
            return Verdict(ok, (f"{label} {'<' if ok else '>='} {fmt(atom.value)}",))
        case ConfidenceAbove():
            ok = current > atom.value
            return Verdict(ok, (f"{label} {'>' if ok else '<='} {fmt(atom.value)}",))
        case DropFromMax():
            peak = max(facts.series(atom.source))
            drop = peak - current
            ok = drop >= atom.delta - _EPS
            text = f"{label} is {fmt(drop)} below the running max {fmt(peak)}"
            return Verdict(ok, (f"{text} ({'>=' if ok else '<'} {fmt(atom.delta)})",))
        case ConsecutiveLow():
            streak = 0
            for value in reversed(facts.series(atom.source)):
                if not value < atom.below:
                    break
                streak += 1
            ok = streak >= atom.count
            return Verdict(
                ok,
                (
                    f"{streak} consecutive checkpoint(s) with {atom.source} confidence below "
                    f"{fmt(atom.below)} (need {atom.count})",
                ),
            )
        case _:
            assert_never(atom)


def _fraction_seen(facts: Facts) -> float | None:
    event = facts.event
    if event.stage is Stage.OUTCOME:
        return 1.0
    if event.stage is Stage.QUESTION:
        return 0.0
    if facts.context.max_tokens is None:
        return None
    return min(1.0, event.token_index / facts.context.max_tokens)


def _check_progress(atom: StageCondition | MinTokens | MinFractionSeen, facts: Facts) -> Verdict:
    event = facts.event
    match atom:
        case StageCondition():
            ok = event.stage.value in atom.stages
            text = f"stage is {event.stage.value}"
            return Verdict(ok, (text if ok else f"{text}, not {' or '.join(atom.stages)}",))
        case MinTokens():
            ok = event.token_index >= atom.tokens
            return Verdict(ok, (f"{event.token_index} answer tokens seen (need {atom.tokens})",))
        case MinFractionSeen():
            seen = _fraction_seen(facts)
            if seen is None:
                return Verdict(False, ("fraction of answer seen is unknown (no max_tokens)",))
            ok = seen >= atom.fraction
            return Verdict(ok, (f"{fmt(seen)} of the answer seen (need {fmt(atom.fraction)})",))
        case _:
            assert_never(atom)


def _same(actual: object, expected: MetaScalar) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return actual == expected


def _check_run(
    atom: AttemptCondition | ModelCondition | TagsCondition | MetadataCondition, facts: Facts
) -> Verdict:
    context = facts.context
    match atom:
        case AttemptCondition():
            low = 1 if atom.min is None else atom.min
            high = math.inf if atom.max is None else atom.max
            ok = low <= context.attempt <= high
            return Verdict(ok, (f"attempt {context.attempt} ({'in' if ok else 'not in'} range)",))
        case ModelCondition():
            ok = any(fnmatch.fnmatchcase(context.model, p) for p in atom.patterns)
            pats = ", ".join(atom.patterns)
            return Verdict(ok, (f"model {context.model!r} {'matches' if ok else 'not in'} {pats}",))
        case TagsCondition():
            ok = (
                all(t in context.tags for t in atom.all_of)
                and (not atom.any_of or any(t in context.tags for t in atom.any_of))
                and not any(t in context.tags for t in atom.none_of)
            )
            tags = ", ".join(sorted(context.tags)) or "none"
            return Verdict(ok, (f"tags [{tags}] {'match' if ok else 'do not match'}",))
        case MetadataCondition():
            for key, expected in atom.equals.items():
                options = expected if isinstance(expected, list) else [expected]
                actual = context.metadata.get(key)
                if key not in context.metadata or not any(_same(actual, o) for o in options):
                    return Verdict(False, (f"metadata {key}={actual!r} does not match",))
            keys = ", ".join(f"{k}={context.metadata[k]!r}" for k in atom.equals)
            return Verdict(True, (f"metadata {keys} matches",))
        case _:
            assert_never(atom)
