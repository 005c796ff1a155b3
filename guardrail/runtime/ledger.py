"""CallLedger: the records of one guarded call (attempts, actions, result) and their audit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from guardrail.runtime.records import (
    ActionRecord,
    AttemptPlan,
    AttemptRecord,
    AttemptReport,
    GuardedResult,
    GuardStatus,
)
from guardrail.runtime.watch import WatchListener

if TYPE_CHECKING:
    from guardrail.audit.sink import AuditSink
    from guardrail.policy import Decision

__all__ = ["CallLedger"]


class CallLedger:
    """Keeps what one call did, tells ``listener`` and ``audit`` about it, builds its result.

    ``audit`` is an optional :class:`guardrail.audit.AuditRun` (``start``/``action``/``error``/
    ``end``); the ledger starts it on creation and ends it once, with the call's status.
    """

    def __init__(
        self,
        *,
        policy_name: str,
        run_id: str | None,
        audit: AuditSink | None = None,
        listener: WatchListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        start: Mapping[str, object] | None = None,
    ) -> None:
        self.policy_name = policy_name
        self.run_id = run_id
        self.audit = audit
        self.listener = listener
        self.attempts: list[AttemptRecord] = []
        self.actions: list[ActionRecord] = []
        self.retries = 0
        self.ended = False
        self._clock = clock
        self._started = clock()
        if audit is not None:
            audit.start(dict(start or {}))

    def attempt(self, plan: AttemptPlan, report: AttemptReport) -> AttemptRecord:
        """Record the attempt ``plan`` ran, as ``report`` describes it."""
        decision = None if report.signal is None else report.signal.decision
        record = AttemptRecord(
            attempt=plan.attempt,
            model=report.model or plan.model,
            kind=plan.kind,
            answer=report.answer,
            partial=report.partial,
            events=report.events,
            decisions=report.decisions,
            signal=None if decision is None else decision.action.type,
            rule=None if decision is None else decision.rule,
            flags=report.flags,
            duration_s=report.duration_s,
            output=report.output,
        )
        self.attempts.append(record)
        return record

    def act(
        self, kind: str, decision: Decision | None, outcome: str, detail: Mapping[str, object]
    ) -> ActionRecord:
        """Record an action carried out after the last attempt."""
        event = None if decision is None else decision.event
        record = ActionRecord(
            type=kind,
            attempt=self.attempts[-1].attempt if self.attempts else 0,
            rule=None if decision is None else decision.rule,
            reasons=() if decision is None else decision.reasons,
            checkpoint=None if event is None else event.index,
            confidence=None if event is None else event.revised,
            outcome=outcome,
            detail=dict(detail),
        )
        self.actions.append(record)
        if self.audit is not None:
            self.audit.action(kind, record.to_dict())
        self.emit("action", record.to_dict())
        return record

    def result(
        self, status: GuardStatus, output: object, answer: str, review_id: str | None
    ) -> GuardedResult:
        """The call's result so far, with this status and output."""
        return GuardedResult(
            output=output,
            answer=answer,
            status=status,
            attempts=list(self.attempts),
            actions=list(self.actions),
            review_id=review_id,
            run_id=self.run_id,
            policy=self.policy_name,
            duration_s=self._clock() - self._started,
        )

    def end(self, result: GuardedResult) -> None:
        """The call is over: end the audit run and tell the listener the result."""
        self.ended = True
        summary = {
            "status": result.status,
            "attempts": len(result.attempts),
            "final_confidence": result.final_confidence,
            "review_id": result.review_id,
            "answer": result.answer,
        }
        if self.audit is not None:
            self.audit.end(result.status, summary)
        self.emit("result", result.to_dict())

    def abandon(self, error: BaseException, attempt: int) -> None:
        """The call ended on an error that is not a decision (or was cancelled); idempotent."""
        if self.ended:
            return
        self.ended = True
        cancelled = isinstance(error, GeneratorExit | asyncio.CancelledError)
        status = "cancelled" if cancelled else "error"
        if self.audit is not None:
            if not cancelled:
                self.audit.error(error, {"attempt": attempt})
            self.audit.end(status, {"attempts": len(self.attempts)})
        self.emit("error", {"source": "call", "status": status, "error": repr(error)})

    def emit(self, kind: str, payload: Mapping[str, object]) -> None:
        """Tell the listener."""
        if self.listener is not None:
            self.listener(kind, payload)
