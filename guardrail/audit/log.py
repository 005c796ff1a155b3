"""The audit log interface, where the log lives by default, and how a record is made.

The backends (:mod:`.jsonl`, :mod:`.sqlite`) build on this module; :mod:`.backends` picks one
for a path. Nothing here imports a backend: the backends import this module, never the reverse.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from guardrail.audit.records import AuditKind, AuditRecord
from guardrail.audit.redact import redact
from guardrail.errors import GuardrailConfigError

__all__ = ["AuditLog", "RecordingLog", "check_tail", "default_audit_log_path", "make_record"]

ENV_AUDIT_LOG = "GUARDRAIL_AUDIT_LOG"


def default_audit_log_path() -> Path:
    """``$GUARDRAIL_AUDIT_LOG``, else ``$XDG_CACHE_HOME/guardrail/audit.jsonl`` (``~/.cache``)."""
    configured = os.environ.get(ENV_AUDIT_LOG, "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "guardrail" / "audit.jsonl"


@runtime_checkable
class AuditLog(Protocol):
    """An append-only record of every checkpoint, decision and action of guarded runs.

    ``record`` redacts secret-looking keys from ``payload`` before anything is written and
    raises :class:`~guardrail.audit.errors.AuditWriteError` when the record could not be kept.
    """

    def record(
        self,
        kind: AuditKind | str,
        run_id: str,
        payload: Mapping[str, Any] | None = None,
        *,
        policy: str | None = None,
        policy_version: str | int | None = None,
        duration_s: float | None = None,
        elapsed_s: float | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
    ) -> AuditRecord:
        """Append one record and return it as written."""
        ...

    def read_run(self, run_id: str) -> list[AuditRecord]:
        """Every record of one run, oldest first."""
        ...

    def tail(self, n: int = 20) -> list[AuditRecord]:
        """The last ``n`` records, oldest first."""
        ...

    def close(self) -> None:
        """Release files or connections."""
        ...


def _seconds(value: float | None) -> float | None:
    # Timings are informative: a non-finite one is dropped, a negative one (clock skew) is 0.
    if value is None or not math.isfinite(value):
        return None
    return max(0.0, float(value))


def make_record(
    kind: AuditKind | str,
    run_id: str,
    payload: Mapping[str, Any] | None,
    *,
    policy: str | None,
    policy_version: str | int | None,
    duration_s: float | None,
    elapsed_s: float | None,
    trace_id: str | None = None,
    span_id: str | None = None,
) -> AuditRecord:
    """Validate and redact the arguments of :meth:`AuditLog.record` into a record."""
    try:
        kind = AuditKind(kind)
    except ValueError:
        valid = ", ".join(k.value for k in AuditKind)
        raise GuardrailConfigError(f"unknown audit kind {kind!r} (valid: {valid})") from None
    try:
        return AuditRecord(
            run_id=run_id,
            kind=kind,
            policy=policy,
            policy_version=None if policy_version is None else str(policy_version),
            payload=redact(dict(payload or {})),
            duration_s=_seconds(duration_s),
            elapsed_s=_seconds(elapsed_s),
            trace_id=trace_id,
            span_id=span_id,
        )
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise GuardrailConfigError(f"invalid audit record: {detail}") from None


class RecordingLog(ABC):
    """The write half of an :class:`AuditLog` backend: validate and redact, then store.

    :meth:`record` builds the record with :func:`make_record` (so every backend redacts and
    validates the same way) and hands it to :meth:`_write`, which stores it or raises
    :class:`~guardrail.audit.errors.AuditWriteError`.
    """

    def record(
        self,
        kind: AuditKind | str,
        run_id: str,
        payload: Mapping[str, Any] | None = None,
        *,
        policy: str | None = None,
        policy_version: str | int | None = None,
        duration_s: float | None = None,
        elapsed_s: float | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
    ) -> AuditRecord:
        """Store one redacted record; return it as written."""
        record = make_record(
            kind,
            run_id,
            payload,
            policy=policy,
            policy_version=policy_version,
            duration_s=duration_s,
            elapsed_s=elapsed_s,
            trace_id=trace_id,
            span_id=span_id,
        )
        self._write(record)
        return record

    @abstractmethod
    def _write(self, record: AuditRecord) -> None:
        """Store ``record`` durably, or raise ``AuditWriteError``."""


def check_tail(n: int) -> int:
    """``n`` for :meth:`AuditLog.tail`, which needs it ``>= 0``."""
    if n < 0:
        raise GuardrailConfigError(f"tail needs n >= 0, got {n}")
    return n
