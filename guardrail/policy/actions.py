"""Policy actions: what happens when a rule matches. A discriminated union on ``type``.

The engine only *decides*; other modules carry actions out. Each action validates its own
parameters here so that a policy that loads is a policy that can be executed::

    action: {type: abort, message: "Not confident enough to answer.", fallback_answer: "..."}
    action: {type: retry, max_attempts: 2, backoff: {initial_s: 0.5}, temperature: 0.2,
             on_exhausted: {type: escalate, targets: [gpt-4o]}}
    action: {type: escalate, targets: [gpt-4o-mini, gpt-4o], on_exhausted: {type: abort}}
    action: {type: self_correct, feedback_template: "...{least_confident_span}...", max_rounds: 1}
    action: {type: human_review, queue: default, mode: provisional}
    action: {type: flag, label: low-confidence, severity: warning}
    action: continue          # a bare type name is short for {type: continue}

``retry`` and ``escalate`` carry ``on_exhausted``: the engine substitutes it once the run's
attempt number passes ``max_attempts`` (retry) or the run already uses the last target
(escalate). It defaults to an abort, so a policy never loops or silently gives up.
"""

from __future__ import annotations

import difflib
import math
import re
import string
from typing import Annotated, Any, ClassVar, Literal, Self, get_args, get_origin

from pydantic import Field, field_validator, model_validator

from guardrail.policy.fields import NonEmptyStr, PolicyModel, before, policy_error

__all__ = [
    "ACTION_TYPES",
    "ATTEMPT_ACTION_TYPES",
    "INTERRUPTING_ACTION_TYPES",
    "TEMPLATE_PLACEHOLDERS",
    "AbortAction",
    "Action",
    "ActionModel",
    "Backoff",
    "ContinueAction",
    "EscalateAction",
    "FallbackAction",
    "FlagAction",
    "HumanReviewAction",
    "RetryAction",
    "SelfCorrectAction",
    "TerminalAction",
    "action_classes",
    "action_type_names",
]

TEMPLATE_PLACEHOLDERS = ("question", "answer", "confidence", "least_confident_span")
"""Names a ``self_correct.feedback_template`` may use, as ``{name}`` or ``{name:format}``."""

TEXT_PLACEHOLDERS = ("question", "answer", "least_confident_span")
"""The placeholders whose values are unbounded text (the others are numbers)."""

MAX_TEXT_FIELDS = 8
"""Most text placeholders a ``feedback_template`` may hold (the default uses three)."""

MAX_FIELD_CHARS = 100_000
"""Longest text a placeholder renders; a longer value keeps its start and end (see below)."""

_DEFAULT_FEEDBACK = (
    "Your answer so far may be wrong (estimated confidence {confidence:.2f}). "
    "The least confident part is: {least_confident_span}\n"
    "Re-check your reasoning for the question below and write a corrected answer.\n\n"
    "Question: {question}\n\nAnswer so far: {answer}"
)


class ActionModel(PolicyModel):
    """Base of the action models: what carrying the action out does to a generation.

    ``may_interrupt``: the action can stop a generation at its checkpoint (``human_review``
    only in ``blocking`` mode). ``starts_attempt``: carrying it out generates the answer again.
    """

    may_interrupt: ClassVar[bool] = False
    starts_attempt: ClassVar[bool] = False


class AbortAction(ActionModel):
    """Stop the generation. ``fallback_answer``, when set, is returned instead of the answer."""

    may_interrupt: ClassVar[bool] = True

    type: Literal["abort"] = "abort"
    message: NonEmptyStr = "Generation aborted: the answer is unlikely to be correct."
    fallback_answer: str | None = Field(default=None, max_length=10_000)


class Backoff(PolicyModel):
    """Exponential backoff: retry ``n`` waits ``min(max_s, initial_s * multiplier ** (n - 1))``.

    ``jitter`` is the fraction of that delay that may be added at random (0 disables it).
    """

    initial_s: float = Field(default=0.5, ge=0.0, le=3600.0, allow_inf_nan=False)
    max_s: float = Field(default=8.0, ge=0.0, le=3600.0, allow_inf_nan=False)
    multiplier: float = Field(default=2.0, ge=1.0, le=16.0, allow_inf_nan=False)
    jitter: float = Field(default=0.1, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_s < self.initial_s:
            raise policy_error(
                f"backoff max_s {self.max_s} is below initial_s {self.initial_s}",
                expected="max_s >= initial_s",
            )
        return self

    def delay_bounds(self, retry: int) -> tuple[float, float]:
        """The ``(min, max)`` seconds to wait before retry number ``retry`` (1-based)."""
        if retry < 1:
            raise ValueError(f"retry must be >= 1, got {retry}")
        exponent = min(retry - 1, 64)  # beyond 64 doublings every delay is capped anyway
        base = min(self.max_s, self.initial_s * math.pow(self.multiplier, exponent))
        return base, base * (1.0 + self.jitter)


class SelfCorrectAction(ActionModel):
    """Ask the generator to revise its answer using ``feedback_template``, up to ``max_rounds``.

    The template may use ``{question}``, ``{answer}``, ``{confidence}`` and
    ``{least_confident_span}`` (with an optional format spec such as ``{confidence:.2f}``);
    literal braces are written ``{{`` and ``}}``. Any other placeholder is a configuration error.
    """

    may_interrupt: ClassVar[bool] = True
    starts_attempt: ClassVar[bool] = True

    type: Literal["self_correct"] = "self_correct"
    feedback_template: str = Field(default=_DEFAULT_FEEDBACK, min_length=1, max_length=20_000)
    max_rounds: int = Field(default=1, ge=1, le=10)

    @field_validator("feedback_template")
    @classmethod
    def _placeholders(cls, template: str) -> str:
        try:
            parsed = [
                (name, spec)
                for _, name, spec, _ in string.Formatter().parse(template)
                if name is not None
            ]
        except ValueError as exc:
            raise policy_error(
                f"feedback_template is not a valid template: {exc}",
                expected="{name} placeholders; literal braces doubled as {{ and }}",
            ) from exc
        text_fields = [name for name, _ in parsed if name in TEXT_PLACEHOLDERS]
        if len(text_fields) > MAX_TEXT_FIELDS:
            counts = ", ".join(
                f"{{{name}}} {text_fields.count(name)} times"
                for name in TEXT_PLACEHOLDERS
                if name in text_fields
            )
            raise policy_error(
                f"feedback_template has {len(text_fields)} text fields ({counts}): each copies "
                "the whole question, answer or span into the feedback prompt",
                expected=f"at most {MAX_TEXT_FIELDS} of {{question}}, {{answer}} and "
                "{least_confident_span} in all",
            )
        for name, spec in parsed:
            _check_format_spec(name, spec or "")
            if name not in TEMPLATE_PLACEHOLDERS:
                close = difflib.get_close_matches(name, TEMPLATE_PLACEHOLDERS, n=1)
                raise policy_error(
                    f"unknown placeholder {{{name}}} in feedback_template",
                    expected="one of " + ", ".join(f"{{{p}}}" for p in TEMPLATE_PLACEHOLDERS),
                    suggestion="{" + close[0] + "}" if close else None,
                )
        try:
            cls._format(template, question="q", answer="a", confidence=0.5, span="s")
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise policy_error(
                f"feedback_template cannot be rendered: {exc}",
                expected="format specs that suit the value ({confidence:.2f} for a number)",
            ) from exc
        return template

    @staticmethod
    def _format(template: str, *, question: str, answer: str, confidence: float, span: str) -> str:
        return template.format(
            question=question, answer=answer, confidence=confidence, least_confident_span=span
        )

    def render(
        self, *, question: str, answer: str, confidence: float, least_confident_span: str
    ) -> str:
        """Fill the template for one self-correction round.

        Each text value is cut to :data:`MAX_FIELD_CHARS` (its start and end kept), so the
        feedback is at most the template, ``MAX_TEXT_FIELDS`` such values and the widths.
        """
        return self._format(
            self.feedback_template,
            question=_elide(question),
            answer=_elide(answer),
            confidence=confidence,
            span=_elide(least_confident_span),
        )


def _elide(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``text``, or its start and end around a note of how many characters were left out.

    The result is at most ``limit`` characters plus the note (about 40).
    """
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters left out ...]\n{text[-tail:]}"


MAX_FORMAT_WIDTH = 1000
"""Largest width or precision a ``feedback_template`` format spec may ask for."""

_SPEC_NUMBERS = re.compile(r"\d+")


def _check_format_spec(name: str, spec: str) -> None:
    """Refuse nested fields and widths/precisions over :data:`MAX_FORMAT_WIDTH`.

    Checked before anything is rendered: ``{question:>40000000000}`` would need 40 GB.
    """
    if "{" in spec or "}" in spec:
        raise policy_error(
            f"placeholder {{{name}}} in feedback_template has a nested field in its format spec",
            expected="a literal format spec such as {confidence:.2f}",
        )
    for number in _SPEC_NUMBERS.findall(spec):
        if len(number) > 4 or int(number) > MAX_FORMAT_WIDTH:
            raise policy_error(
                f"format spec {spec!r} of {{{name}}} in feedback_template asks for "
                f"{number[:20]} characters",
                expected=f"widths and precisions up to {MAX_FORMAT_WIDTH}",
            )


class HumanReviewAction(ActionModel):
    """Send the answer to the review ``queue``.

    ``blocking`` waits for the reviewer's verdict; ``provisional`` returns the answer at once,
    marked as pending review.
    """

    may_interrupt: ClassVar[bool] = True

    type: Literal["human_review"] = "human_review"
    queue: NonEmptyStr = "default"
    mode: Literal["blocking", "provisional"] = "provisional"


class FlagAction(ActionModel):
    """Annotate the answer (``label``, ``severity``) and let it continue."""

    type: Literal["flag"] = "flag"
    label: NonEmptyStr = "low-confidence"
    severity: Literal["info", "warning", "critical"] = "warning"


class ContinueAction(ActionModel):
    """Do nothing: the generation goes on."""

    type: Literal["continue"] = "continue"


def _shorthand_action(value: object) -> object:
    """Accept a bare type name (``continue``) for an action without parameters."""
    if isinstance(value, str):
        return {"type": value}
    return value


def action_classes(union: Any) -> tuple[type[ActionModel], ...]:
    """The action models of a discriminated union (``Annotated[A | B, Field(...)]`` or ``A | B``).

    The unions below are the one place that lists which actions may appear where; the names
    that YAML accepts and that the runtime tests for are derived from them.
    """
    members = get_args(union)[0] if get_origin(union) is Annotated else union
    classes = get_args(members) or (members,)
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, ActionModel)):
            raise TypeError(f"{cls!r} is not an action model")
    return tuple(classes)


def action_type_names(union: Any) -> tuple[str, ...]:
    """The ``type`` names of the actions of ``union``, in its order."""
    return tuple(str(cls.model_fields["type"].default) for cls in action_classes(union))


def _names_or(union: Any) -> Any:
    """JSON Schema input of an action field: a bare type name, or the full action."""
    return Literal[action_type_names(union)] | union


TerminalAction = Annotated[
    AbortAction | SelfCorrectAction | HumanReviewAction | FlagAction | ContinueAction,
    Field(discriminator="type"),
]
"""An action the engine never replaces (what an exhausted escalation falls back to)."""

_TerminalInput = _names_or(TerminalAction)


class EscalateAction(ActionModel):
    """Re-run the answer on the next model of ``targets`` (litellm or registered LangChain names).

    The next target is the one after the run's current model in the list, or the first one when
    the current model is not listed. When the current model is the last target the engine uses
    ``on_exhausted`` instead.
    """

    may_interrupt: ClassVar[bool] = True
    starts_attempt: ClassVar[bool] = True

    type: Literal["escalate"] = "escalate"
    targets: list[NonEmptyStr] = Field(min_length=1, max_length=32)
    on_exhausted: Annotated[TerminalAction, before(_shorthand_action, _TerminalInput)] = Field(
        default_factory=lambda: AbortAction(message="No larger model left to escalate to.")
    )

    @field_validator("targets")
    @classmethod
    def _unique(cls, targets: list[str]) -> list[str]:
        for index, name in enumerate(targets):
            if name in targets[:index]:
                raise policy_error(f"target {name!r} is listed twice", at=(index,))
        return targets

    def next_target(self, current_model: str) -> str | None:
        """The target to escalate to from ``current_model``; ``None`` when none is left."""
        if current_model not in self.targets:
            return self.targets[0]
        position = self.targets.index(current_model)
        return self.targets[position + 1] if position + 1 < len(self.targets) else None


FallbackAction = Annotated[
    AbortAction
    | EscalateAction
    | SelfCorrectAction
    | HumanReviewAction
    | FlagAction
    | ContinueAction,
    Field(discriminator="type"),
]
"""What an exhausted retry falls back to: any action but another retry."""

_FallbackInput = _names_or(FallbackAction)


class RetryAction(ActionModel):
    """Discard the answer and generate again, at most ``max_attempts`` times per answer.

    ``max_attempts`` counts retries (attempts after the first): with 2 the run may reach attempt 3.
    ``temperature``, when set, is the sampling temperature for the retries.
    """

    may_interrupt: ClassVar[bool] = True
    starts_attempt: ClassVar[bool] = True

    type: Literal["retry"] = "retry"
    max_attempts: int = Field(default=2, ge=1, le=20)
    backoff: Backoff = Field(default_factory=Backoff)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, allow_inf_nan=False)
    on_exhausted: Annotated[FallbackAction, before(_shorthand_action, _FallbackInput)] = Field(
        default_factory=lambda: AbortAction(message="Retries exhausted; answer still uncertain.")
    )

    def exhausted(self, attempt: int) -> bool:
        """True when a run at ``attempt`` (1-based) may not retry any more."""
        return attempt > self.max_attempts


Action = Annotated[
    AbortAction
    | RetryAction
    | EscalateAction
    | SelfCorrectAction
    | HumanReviewAction
    | FlagAction
    | ContinueAction,
    Field(discriminator="type"),
]
"""Any policy action, discriminated on ``type``."""

ActionField = Annotated[Action, before(_shorthand_action, _names_or(Action))]
"""``Action`` that also accepts a bare type name in YAML."""

ACTION_TYPES = action_type_names(Action)
"""Every action ``type``, in the order of :data:`Action`."""

INTERRUPTING_ACTION_TYPES = frozenset(
    cls.model_fields["type"].default for cls in action_classes(Action) if cls.may_interrupt
)
"""Action types that may stop a generation (``human_review`` only in ``blocking`` mode)."""

ATTEMPT_ACTION_TYPES = tuple(
    str(cls.model_fields["type"].default) for cls in action_classes(Action) if cls.starts_attempt
)
"""Action types whose execution generates the answer again (the attempt kinds after the first)."""
