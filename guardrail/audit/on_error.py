"""What a guarded call does when its audit log cannot keep a record (``audit.on_error``).

``fail_closed`` (the default): the :class:`~guardrail.audit.errors.AuditWriteError` propagates
and the guarded call fails; nothing runs unrecorded. ``fail_open``: the call goes on without
that record. Either way the failure is written to the ``guardrail.audit`` logger at ERROR, with
the record's kind and run id, so a dropped record is never silent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from guardrail.audit.errors import AuditWriteError
from guardrail.audit.log import AuditLog, make_record
from guardrail.audit.records import AuditKind, AuditRecord

__all__ = ["AuditOnError", "PolicyAuditLog"]

AuditOnError = Literal["fail_closed", "fail_open"]

logger = logging.getLogger("guardrail.audit")


class PolicyAuditLog:
    """An :class:`~guardrail.audit.log.AuditLog` that applies ``on_error`` to write failures."""

    def __init__(self, log: AuditLog, on_error: AuditOnError = "fail_closed") -> None:
        if on_error not in ("fail_closed", "fail_open"):
            raise ValueError(f"on_error must be 'fail_closed' or 'fail_open', got {on_error!r}")
        self.log = log
        self.on_error: AuditOnError = on_error
        self.dropped = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.log!r}, on_error={self.on_error!r})"

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
        """Append one record; on a write failure, log it and raise or go on per ``on_error``."""
        options: dict[str, Any] = {
            "policy": policy,
            "policy_version": policy_version,
            "duration_s": duration_s,
            "elapsed_s": elapsed_s,
            "trace_id": trace_id,
            "span_id": span_id,
        }
        try:
            return self.log.record(kind, run_id, payload, **options)
        except AuditWriteError as exc:
            self.dropped += 1
            logger.error(
                "audit record %s of run %s not written (audit.on_error=%s): %s",
                getattr(kind, "value", kind),
                run_id,
                self.on_error,
                exc,
            )
            if self.on_error == "fail_closed":
                raise
            return make_record(kind, run_id, payload, **options)

    def read_run(self, run_id: str) -> list[AuditRecord]:
        """Every record of one run, oldest first."""
        return self.log.read_run(run_id)

    def tail(self, n: int = 20) -> list[AuditRecord]:
        """The last ``n`` records, oldest first."""
        return self.log.tail(n)

    def close(self) -> None:
        """Close the wrapped log."""
        self.log.close()
