"""TracedRun: one guarded call as OpenTelemetry spans, and its audit records stamped with them.

It has the methods of :class:`guardrail.audit.AuditRun` (``start``, ``checkpoint``,
``decision``, ``action``, ``error``, ``end``), so the runtime records a call through it exactly
as it records one through an audit run, and it forwards each call to the wrapped audit run (if
any) after stamping the trace and span ids. What becomes of each call:

* ``start``: the call span, ``guard {model}``, child of the caller's current span, with
  ``gen_ai.operation.name``, ``gen_ai.request.model`` and the policy;
* :meth:`begin_attempt` (or the first checkpoint of a new attempt): a child span
  ``chat {model}`` per attempt;
* ``checkpoint``: the ``guardrail.checkpoints`` counter and the scorer latency histogram;
* ``decision``: a ``gen_ai.evaluation.result`` event on the attempt span
  (``gen_ai.evaluation.name`` ``finece.<stage>``, ``gen_ai.evaluation.score.value`` the revised
  confidence, ``gen_ai.evaluation.score.label`` the action decided, ``gen_ai.evaluation.
  explanation`` the rule), the ``guardrail.decisions`` counter, and for a scorer failure the
  ``guardrail.scorer.failures`` counter by ``fail_open`` / ``fail_closed``;
* ``action``: the attempt span ends; a ``guardrail.action`` event on the call span;
* ``error``: the exception is recorded on the open span;
* ``end``: the spans end, the call span carrying the status and the final confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import AttributeValue

    from guardrail.audit.records import AuditRecord
    from guardrail.audit.run import AuditRun

__all__ = ["Instruments", "TracedRun"]


class Instruments(Protocol):
    """What a traced run records into (:class:`guardrail.telemetry.Telemetry` is one)."""

    @property
    def tracer(self) -> Tracer:
        """Where the call and attempt spans start."""
        ...

    @property
    def checkpoints(self) -> Counter:
        """Checkpoints by stage."""
        ...

    @property
    def decisions(self) -> Counter:
        """Decisions by action."""
        ...

    @property
    def scorer_latency(self) -> Histogram:
        """Scorer latency in seconds, by stage."""
        ...

    @property
    def scorer_failures(self) -> Counter:
        """Scorer failures by fail-open / fail-closed outcome."""
        ...


_ERROR_STATUSES = ("error", "aborted", "rejected")
_MAX_MESSAGE = 4_000
_MAX_TRACE = 32_000


def _attributes(values: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Keep the values OpenTelemetry accepts as attributes (drops ``None`` and nesting)."""
    kept: dict[str, AttributeValue] = {}
    for key, value in values.items():
        if isinstance(value, bool | int | float | str):
            kept[key] = value
    return kept


def _ids(span: Span) -> tuple[str, str] | None:
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


class TracedRun:
    """Spans and metrics of one guarded call; the audit records go on to ``audit``."""

    def __init__(
        self,
        telemetry: Instruments,
        audit: AuditRun | None,
        *,
        run_id: str | None,
        policy: str,
        policy_version: str | int | None = None,
    ) -> None:
        self.telemetry = telemetry
        self.audit = audit
        self.run_id = run_id if run_id is not None else (audit.run_id if audit else None)
        self.policy = policy
        self.policy_version = policy_version
        self.model = ""
        self._call: Span | None = None
        self._attempt: Span | None = None
        self._attempt_number = 0
        if audit is not None:
            audit.trace_ids = self.trace_ids

    def __repr__(self) -> str:
        return f"{type(self).__name__}(run_id={self.run_id!r}, policy={self.policy!r})"

    # ---------------------------------------------------------------------- spans
    @property
    def span(self) -> Span | None:
        """The innermost open span: the attempt's, else the call's."""
        return self._attempt if self._attempt is not None else self._call

    def trace_ids(self) -> tuple[str, str] | None:
        """``(trace_id, span_id)`` of :attr:`span` as lower-case hex, ``None`` before start."""
        span = self.span
        return None if span is None else _ids(span)

    def _ensure_call(self) -> Span:
        if self._call is None:
            self.start({})
        assert self._call is not None
        return self._call

    def begin_attempt(self, attempt: int, model: str = "") -> None:
        """An attempt starts: end the previous attempt's span and open ``chat {model}``."""
        from opentelemetry import trace

        call = self._ensure_call()
        self._end_attempt()
        self._attempt_number = attempt
        model = model or self.model
        attributes = _attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model or None,
                "guardrail.attempt": attempt,
            }
        )
        self._attempt = self.telemetry.tracer.start_span(
            f"chat {model}".strip(),
            context=trace.set_span_in_context(call),
            attributes=attributes,
        )

    def _attempt_for(self, attempt: Any, model: Any) -> Span:
        if self._attempt is None or (isinstance(attempt, int) and attempt != self._attempt_number):
            number = attempt if isinstance(attempt, int) else self._attempt_number + 1
            self.begin_attempt(number, model if isinstance(model, str) else "")
        assert self._attempt is not None
        return self._attempt

    def _end_attempt(self) -> None:
        if self._attempt is not None:
            self._attempt.end()
            self._attempt = None

    # -------------------------------------------------------- the AuditRun methods
    def start(self, payload: Mapping[str, Any] | None = None) -> AuditRecord | None:
        """Open the call span (once) and record ``run_start``."""
        data = dict(payload or {})
        if self._call is None:
            model = data.get("model")
            self.model = model if isinstance(model, str) else ""
            attributes = _attributes(
                {
                    "gen_ai.operation.name": "guard",
                    "gen_ai.request.model": self.model or None,
                    "guardrail.policy": self.policy,
                    "guardrail.policy.version": None
                    if self.policy_version is None
                    else str(self.policy_version),
                    "guardrail.run_id": self.run_id,
                }
            )
            self._call = self.telemetry.tracer.start_span(
                f"guard {self.model}".strip(), attributes=attributes
            )
        return None if self.audit is None else self.audit.start(data)

    def record(
        self,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        duration_s: float | None = None,
    ) -> AuditRecord | None:
        """Record one event in the audit run (if any), stamped with the current span."""
        return (
            None if self.audit is None else self.audit.record(kind, payload, duration_s=duration_s)
        )

    def checkpoint(self, event: Any, **extra: Any) -> AuditRecord | None:
        """Count the checkpoint, time the scorer, and record it."""
        self._attempt_for(extra.get("attempt"), extra.get("model"))
        stage = str(getattr(getattr(event, "stage", None), "value", "unknown"))
        self.telemetry.checkpoints.add(1, {"guardrail.stage": stage})
        latency = getattr(event, "latency_s", None)
        if isinstance(latency, int | float):
            self.telemetry.scorer_latency.record(float(latency), {"guardrail.stage": stage})
        return None if self.audit is None else self.audit.checkpoint(event, **extra)

    def decision(self, payload: Mapping[str, Any]) -> AuditRecord | None:
        """An evaluation event for the decision's checkpoint, metrics, and the record."""
        context = payload.get("context")
        attempt = context.get("attempt") if isinstance(context, Mapping) else None
        model = context.get("model") if isinstance(context, Mapping) else None
        span = self._attempt_for(attempt, model)
        action = payload.get("action")
        action_type = str(action.get("type")) if isinstance(action, Mapping) else "unknown"
        rule = payload.get("rule")
        failure_mode = payload.get("failure_mode")
        explanation = (
            rule
            if isinstance(rule, str)
            else (f"on_error: {failure_mode}" if failure_mode else "default_action")
        )
        event = payload.get("event")
        if isinstance(event, Mapping):
            span.add_event(
                "gen_ai.evaluation.result",
                _attributes(
                    {
                        "gen_ai.evaluation.name": f"finece.{event.get('stage')}",
                        "gen_ai.evaluation.score.value": event.get("revised"),
                        "gen_ai.evaluation.score.label": action_type,
                        "gen_ai.evaluation.explanation": explanation,
                        "guardrail.checkpoint.index": event.get("index"),
                        "guardrail.checkpoint.reason": event.get("reason"),
                        "guardrail.checkpoint.token_index": event.get("token_index"),
                        "guardrail.checkpoint.confidence": event.get("confidence"),
                    }
                ),
            )
        self.telemetry.decisions.add(
            1, {"guardrail.action": action_type, "guardrail.policy": self.policy}
        )
        if isinstance(failure_mode, str):
            self.telemetry.scorer_failures.add(1, {"guardrail.failure_mode": failure_mode})
            span.add_event(
                "guardrail.scorer_failure",
                _attributes(
                    {"guardrail.failure_mode": failure_mode, "error": payload.get("error")}
                ),
            )
        return None if self.audit is None else self.audit.decision(payload)

    def action(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        duration_s: float | None = None,
    ) -> AuditRecord | None:
        """The attempt is over: end its span; an action event on the call span; the record."""
        self._end_attempt()
        data = dict(payload or {})
        call = self._ensure_call()
        call.add_event(
            "guardrail.action",
            _attributes(
                {
                    "guardrail.action": name,
                    "guardrail.attempt": data.get("attempt"),
                    "guardrail.rule": data.get("rule"),
                    "guardrail.outcome": data.get("outcome"),
                    "guardrail.confidence": data.get("confidence"),
                }
            ),
        )
        if self.audit is None:
            return None
        return self.audit.action(name, data, duration_s=duration_s)

    def error(
        self, exc: BaseException, payload: Mapping[str, Any] | None = None
    ) -> AuditRecord | None:
        """Record the exception on the open span, and in the audit run.

        The span's exception event is redacted as the audit record is: its message and stack
        trace pass :func:`~guardrail.redaction.redact_text`, the payload
        :func:`~guardrail.redaction.redact` (an error of a remote scorer or a database may
        quote a URL with its credentials).
        """
        span = self.span
        if span is not None:
            import traceback

            from guardrail.redaction import bounded, redact, redact_text

            trace = "".join(traceback.format_exception(exc))
            attributes = _attributes(redact(dict(payload or {})))
            attributes["exception.message"] = bounded(redact_text(str(exc)), _MAX_MESSAGE)
            attributes["exception.stacktrace"] = bounded(redact_text(trace), _MAX_TRACE)
            span.record_exception(exc, attributes=attributes)
        return None if self.audit is None else self.audit.error(exc, payload)

    def end(
        self, status: str = "ok", payload: Mapping[str, Any] | None = None
    ) -> AuditRecord | None:
        """End the spans; the call span carries the call's status and final confidence."""
        from opentelemetry.trace import Status, StatusCode

        data = dict(payload or {})
        self._end_attempt()
        call = self._ensure_call()
        record = None if self.audit is None else self.audit.end(status, data)
        call.set_attributes(
            _attributes(
                {
                    "guardrail.status": status,
                    "guardrail.attempts": data.get("attempts"),
                    "guardrail.final_confidence": data.get("final_confidence"),
                    "guardrail.review_id": data.get("review_id"),
                }
            )
        )
        if status in _ERROR_STATUSES:
            call.set_status(Status(StatusCode.ERROR, f"guardrail: {status}"))
        call.end()
        self._call = None
        return record
