"""What both review stores share: status filters, verdicts, reviewer names, the list query.

Rows become items here too, the invalid ones reported and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from guardrail.errors import GuardrailConfigError
from guardrail.review.errors import InvalidDecisionError, InvalidRowError
from guardrail.review.models import (
    MAX_ANSWER_CHARS,
    MAX_NOTE_CHARS,
    ReviewDecision,
    ReviewItem,
    ReviewStatus,
    Verdict,
    reviewer_name_problem,
)
from guardrail.review.store import InvalidRowHandler, StatusFilter

__all__ = ["check_reviewer", "items_from_rows", "list_query", "make_decision", "statuses"]

logger = logging.getLogger("guardrail.review")

Row = TypeVar("Row")


def statuses(status: StatusFilter) -> tuple[str, ...]:
    """The status values ``status`` selects (none: every status); a config error names a bad one."""
    if status is None:
        return ()
    raw = [status] if isinstance(status, str) else list(status)
    try:
        return tuple(ReviewStatus(value).value for value in raw)
    except ValueError:
        valid = ", ".join(s.value for s in ReviewStatus)
        raise GuardrailConfigError(f"unknown review status in {raw!r} (valid: {valid})") from None


def make_decision(
    verdict: Verdict | str, reviewer: str, edited_answer: str | None, note: str | None
) -> ReviewDecision:
    """The validated decision; :class:`InvalidDecisionError` says what is wrong with it."""
    try:
        verdict = Verdict(verdict)
    except ValueError:
        valid = ", ".join(v.value for v in Verdict)
        raise InvalidDecisionError(f"unknown verdict {verdict!r} (valid: {valid})") from None
    check_reviewer(reviewer)
    _check_size("edited answer", edited_answer, MAX_ANSWER_CHARS, "MAX_ANSWER_CHARS")
    _check_size("note", note, MAX_NOTE_CHARS, "MAX_NOTE_CHARS")
    try:
        return ReviewDecision(
            verdict=verdict, reviewer=reviewer, edited_answer=edited_answer, note=note
        )
    except ValidationError as exc:
        detail = "; ".join(error["msg"] for error in exc.errors())
        raise InvalidDecisionError(f"invalid decision: {detail}") from None


def check_reviewer(reviewer: str) -> str:
    """``reviewer`` when it is an acceptable name; :class:`InvalidDecisionError` says why not."""
    if not isinstance(reviewer, str):
        kind = type(reviewer).__name__
        raise InvalidDecisionError(f"a reviewer name must be a string, not {kind}")
    problem = reviewer_name_problem(reviewer)
    if problem is not None:
        raise InvalidDecisionError(problem)
    return reviewer


def _check_size(what: str, text: str | None, limit: int, name: str) -> None:
    if text is not None and len(text) > limit:
        raise InvalidDecisionError(
            f"the {what} is {len(text):,} characters; the limit is {limit:,} ({name})"
        )


def _log_invalid(error: InvalidRowError) -> None:
    logger.warning("skipped: %s", error)


def items_from_rows(
    rows: Iterable[Row],
    build: Callable[[Row], ReviewItem],
    on_invalid: InvalidRowHandler | None,
) -> list[ReviewItem]:
    """The items of ``rows``; a row ``build`` refuses is passed to ``on_invalid`` and skipped.

    ``on_invalid`` defaults to a warning on the ``guardrail.review`` logger.
    """
    report = _log_invalid if on_invalid is None else on_invalid
    items: list[ReviewItem] = []
    for row in rows:
        try:
            items.append(build(row))
        except InvalidRowError as error:
            report(error)
    return items


def list_query(
    status: StatusFilter,
    queue: str | None,
    since: datetime | None,
    limit: int | None,
    placeholder: str,
    *,
    created_column: str,
    created: Callable[[datetime], Any],
) -> tuple[str, list[Any]]:
    """``SELECT`` of the items matching the filters, oldest first, and its parameters.

    ``placeholder`` is the driver's parameter marker (``?`` or ``%s``); ``created_column`` the
    column of the creation time and ``created`` what turns ``since`` into its value.
    """
    clauses: list[str] = []
    params: list[Any] = []
    wanted = statuses(status)
    if wanted:
        clauses.append(f"status IN ({', '.join([placeholder] * len(wanted))})")
        params.extend(wanted)
    if queue is not None:
        clauses.append(f"queue = {placeholder}")
        params.append(queue)
    if since is not None:
        if since.tzinfo is None:
            raise GuardrailConfigError("since must be a timezone-aware datetime")
        clauses.append(f"{created_column} >= {placeholder}")
        params.append(created(since))
    sql = "SELECT * FROM review_items"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += f" ORDER BY {created_column}, id"
    if limit is not None:
        if limit < 0:
            raise GuardrailConfigError(f"limit must be >= 0, got {limit}")
        sql += f" LIMIT {placeholder}"
        params.append(limit)
    return sql, params
