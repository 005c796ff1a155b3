"""The records of the review queue: items awaiting a human and the decisions made on them.

Every model is strict and forbids unknown keys. Enum fields also accept their string values
(``"approve"``), and ``events`` accepts :class:`~guardrail.events.CheckpointEvent` objects, which
are stored as their ``to_dict()`` mappings.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_NOTE_CHARS",
    "MAX_REVIEWER_CHARS",
    "ReviewAttempt",
    "ReviewDecision",
    "ReviewItem",
    "ReviewStatus",
    "Verdict",
]


class ReviewStatus(StrEnum):
    """Where an item stands: waiting for a reviewer, or decided one way."""

    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"


class Verdict(StrEnum):
    """What a reviewer decided."""

    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"

    @property
    def status(self) -> ReviewStatus:
        """The item status this verdict leads to."""
        return _STATUS_OF[self]


_STATUS_OF = {
    Verdict.APPROVE: ReviewStatus.APPROVED,
    Verdict.EDIT: ReviewStatus.EDITED,
    Verdict.REJECT: ReviewStatus.REJECTED,
}

JsonObject = dict[str, Any]
_Probability = Annotated[float, Field(ge=0.0, le=1.0)]

MAX_REVIEWER_CHARS = 200
"""The longest reviewer name (a claim holder or a decision's reviewer)."""
MAX_ANSWER_CHARS = 1_000_000
"""The longest edited answer a reviewer may store (far beyond any model's reply)."""
MAX_NOTE_CHARS = 20_000
"""The longest note on a decision."""

# Control characters (C0, C1, DEL), format characters (bidi overrides, zero-width joiners)
# and line/paragraph separators: a name with any of them can rewrite the terminal it is shown
# in or pass for someone else's.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def reviewer_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a reviewer name, or ``None`` when it is acceptable.

    A name is 1 to :data:`MAX_REVIEWER_CHARS` characters, not only spaces, with no control,
    format (bidi), separator, surrogate or unassigned characters.
    """
    if not name.strip():
        return "a reviewer name must not be empty"
    if len(name) > MAX_REVIEWER_CHARS:
        return (
            f"a reviewer name is at most {MAX_REVIEWER_CHARS} characters "
            f"(MAX_REVIEWER_CHARS); got {len(name):,}"
        )
    for position, char in enumerate(name):
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return (
                f"a reviewer name must not contain control or format characters; "
                f"found U+{ord(char):04X} at position {position}"
            )
    return None


def _check_reviewer(name: str | None) -> str | None:
    if name is not None and (problem := reviewer_name_problem(name)) is not None:
        raise ValueError(problem)
    return name


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serializable: {exc}") from exc


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ReviewDecision(_Model):
    """A reviewer's final word on an item. ``edited_answer`` is required for, and only for, edit.

    ``reviewer`` passes :func:`reviewer_name_problem`; ``edited_answer`` and ``note`` are
    bounded by :data:`MAX_ANSWER_CHARS` and :data:`MAX_NOTE_CHARS`.
    """

    verdict: Annotated[Verdict, Field(strict=False)]
    reviewer: str
    decided_at: AwareDatetime = Field(default_factory=utc_now)
    edited_answer: str | None = Field(default=None, max_length=MAX_ANSWER_CHARS)
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)
    overrode_claim: str | None = None
    """The reviewer whose live claim this decision overrode (a forced decision by an admin)."""

    _reviewer_name = field_validator("reviewer")(_check_reviewer)

    @model_validator(mode="after")
    def _edited_answer_matches_verdict(self) -> Self:
        if self.verdict is Verdict.EDIT and self.edited_answer is None:
            raise ValueError("verdict 'edit' requires edited_answer")
        if self.verdict is not Verdict.EDIT and self.edited_answer is not None:
            raise ValueError(
                f"edited_answer is only allowed with verdict 'edit', not {self.verdict.value!r}"
            )
        return self


class ReviewAttempt(_Model):
    """One earlier attempt at the answer (the guard may retry or escalate before asking a human).

    ``action`` is what the guard did after it (``retry``, ``escalate``, ``self_correct``, ...),
    ``rule`` the policy rule that fired, ``events`` the checkpoint events as dicts.
    """

    attempt: int = Field(ge=1)
    answer: str
    confidence: _Probability | None = None
    model: str | None = None
    action: str | None = None
    rule: str | None = None
    events: list[JsonObject] = Field(default_factory=list)

    @field_validator("events", mode="before")
    @classmethod
    def _events_as_dicts(cls, value: Any) -> Any:
        return _event_dicts(value)

    @model_validator(mode="after")
    def _json_ready(self) -> Self:
        _check_json(self.events, "events")
        return self


def _event_dicts(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [event.to_dict() if hasattr(event, "to_dict") else event for event in value]
    return value


class ReviewItem(_Model):
    """An answer held for a human decision.

    ``answer`` is what the model produced up to the point the guard stopped it (``partial`` says
    whether generation was cut short). ``confidence`` is the confidence that triggered the
    review and ``rule`` the policy rule that fired. ``status`` and ``decision`` move together:
    ``pending`` has no decision; every other status has the matching one. ``claimed_by`` is the
    reviewer who last claimed the item (see ``claim``) and ``claimed_until`` when that lapses.
    """

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=200)
    created_at: AwareDatetime = Field(default_factory=utc_now)
    status: Annotated[ReviewStatus, Field(strict=False)] = ReviewStatus.PENDING
    queue: str = Field(default="default", min_length=1, max_length=200)
    question: str
    answer: str = ""
    partial: bool = False
    events: list[JsonObject] = Field(default_factory=list)
    confidence: _Probability | None = None
    rule: str | None = None
    model: str | None = None
    run_id: str | None = None
    attempts: list[ReviewAttempt] = Field(default_factory=list)
    metadata: JsonObject = Field(default_factory=dict)
    dedupe_key: str | None = None
    decision: ReviewDecision | None = None
    claimed_by: str | None = None
    claimed_until: AwareDatetime | None = None

    _claim_holder = field_validator("claimed_by")(_check_reviewer)

    @field_validator("events", mode="before")
    @classmethod
    def _events_as_dicts(cls, value: Any) -> Any:
        return _event_dicts(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_json(self.events, "events")
        _check_json(self.metadata, "metadata")
        expected = self.decision.verdict.status if self.decision else ReviewStatus.PENDING
        if self.status is not expected:
            raise ValueError(
                f"status {self.status.value!r} does not match the decision "
                f"(expected {expected.value!r})"
            )
        return self

    @property
    def final_answer(self) -> str | None:
        """The answer to release: the edit, the approved answer, or ``None`` (pending/rejected)."""
        if self.decision is None or self.decision.verdict is Verdict.REJECT:
            return None
        if self.decision.verdict is Verdict.EDIT:
            return self.decision.edited_answer
        return self.answer

    def decided(self, decision: ReviewDecision) -> ReviewItem:
        """A copy of this item carrying ``decision`` and the matching status."""
        return self.model_copy(update={"decision": decision, "status": decision.verdict.status})
