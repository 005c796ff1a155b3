"""What both review stores share: reading status filters and verdicts, and the list query."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from guardrail.errors import GuardrailConfigError
from guardrail.review.errors import InvalidDecisionError
from guardrail.review.models import ReviewDecision, ReviewStatus, Verdict
from guardrail.review.store import StatusFilter

__all__ = ["list_query", "make_decision", "statuses"]


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
    if not reviewer.strip():
        raise InvalidDecisionError("a decision needs a reviewer")
    try:
        return ReviewDecision(
            verdict=verdict, reviewer=reviewer, edited_answer=edited_answer, note=note
        )
    except ValidationError as exc:
        detail = "; ".join(error["msg"] for error in exc.errors())
        raise InvalidDecisionError(f"invalid decision: {detail}") from None


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
