"""Record one guarded run: its id, policy and timings bound once, one call per event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from guardrail.audit.log import AuditLog
from guardrail.audit.records import AuditKind, AuditRecord
from guardrail.audit.sink import CheckpointLike

__all__ = ["AuditRun"]


class AuditRun:
    """Writes the records of one run to ``log`` with its ``run_id``, policy and elapsed time.

    The :class:`~guardrail.audit.sink.AuditSink` the runtime writes through.

    As a context manager it records ``run_start`` on entry and ``run_end`` on exit (with
    ``status`` ``"ok"`` or ``"error"``, after an ``error`` record); exceptions propagate.
    ``trace_ids``, when set (tracing sets it), returns the ``(trace_id, span_id)`` stamped on
    each record.
    """

    trace_ids: Callable[[], tuple[str, str] | None] | None = None

    def __init__(
        self,
        log: AuditLog,
        *,
        run_id: str | None = None,
        policy: str | None = None,
        policy_version: str | int | None = None,
    ) -> None:
        self.log = log
        self.run_id = run_id or uuid.uuid4().hex
        self.policy = policy
        self.policy_version = policy_version
        self._started = time.monotonic()
        self._ended = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(run_id={self.run_id!r}, policy={self.policy!r})"

    def record(
        self,
        kind: AuditKind | str,
        payload: Mapping[str, Any] | None = None,
        *,
        duration_s: float | None = None,
    ) -> AuditRecord:
        """Record one event of this run, stamped with the time since the run started."""
        ids = None if self.trace_ids is None else self.trace_ids()
        return self.log.record(
            kind,
            self.run_id,
            payload,
            policy=self.policy,
            policy_version=self.policy_version,
            duration_s=duration_s,
            elapsed_s=time.monotonic() - self._started,
            trace_id=None if ids is None else ids[0],
            span_id=None if ids is None else ids[1],
        )

    def start(self, payload: Mapping[str, Any] | None = None) -> AuditRecord:
        """Record ``run_start`` and restart the run clock."""
        self._started = time.monotonic()
        self._ended = False
        return self.record(AuditKind.RUN_START, payload)

    def checkpoint(self, event: CheckpointLike, **extra: Any) -> AuditRecord:
        """Record a checkpoint event (its dict, plus ``extra``); its latency is the duration."""
        return self.record(
            AuditKind.CHECKPOINT, {**event.to_dict(), **extra}, duration_s=event.latency_s
        )

    def decision(self, payload: Mapping[str, Any]) -> AuditRecord:
        """Record a policy (or human) decision."""
        return self.record(AuditKind.DECISION, payload)

    def action(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        duration_s: float | None = None,
    ) -> AuditRecord:
        """Record an action the guard took (``retry``, ``abort``, ``human_review``, ...)."""
        return self.record(
            AuditKind.ACTION, {**(payload or {}), "action": name}, duration_s=duration_s
        )

    def error(self, exc: BaseException, payload: Mapping[str, Any] | None = None) -> AuditRecord:
        """Record a failure by type and message."""
        return self.record(
            AuditKind.ERROR, {**(payload or {}), "type": type(exc).__name__, "message": str(exc)}
        )

    def end(self, status: str = "ok", payload: Mapping[str, Any] | None = None) -> AuditRecord:
        """Record ``run_end``; its duration is the whole run."""
        self._ended = True
        elapsed = time.monotonic() - self._started
        return self.record(
            AuditKind.RUN_END, {**(payload or {}), "status": status}, duration_s=elapsed
        )

    def __enter__(self) -> AuditRun:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.error(exc)
        if not self._ended:
            self.end("error" if exc is not None else "ok")
