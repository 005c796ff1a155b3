"""The audit record: one line of what happened in a guarded run."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["AuditKind", "AuditRecord"]


class AuditKind(StrEnum):
    """What a record is about."""

    RUN_START = "run_start"
    CHECKPOINT = "checkpoint"
    DECISION = "decision"
    ACTION = "action"
    ERROR = "error"
    RUN_END = "run_end"


class AuditRecord(BaseModel):
    """One audited event of a run.

    ``payload`` is already redacted (see :func:`guardrail.audit.redact.redact`).
    ``duration_s`` is how long the recorded step took (a checkpoint's scoring latency, an
    action's run time, the whole run for ``run_end``); ``elapsed_s`` is the time since the run
    started, when known. ``trace_id`` and ``span_id`` (lower-case hex, as OpenTelemetry prints
    them) tie the record to the span of the guarded call or attempt, when tracing is on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ts: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    run_id: str = Field(min_length=1)
    kind: Annotated[AuditKind, Field(strict=False)]
    policy: str | None = None
    policy_version: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    elapsed_s: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    trace_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    span_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")
