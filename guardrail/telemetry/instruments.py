"""The tracer and the metric instruments of the guard, and the process-wide switch.

Instrument names (all under ``guardrail.``):

* ``guardrail.checkpoints`` (counter; ``guardrail.stage``): checkpoints scored;
* ``guardrail.decisions`` (counter; ``guardrail.action``, ``guardrail.policy``): decisions;
* ``guardrail.scorer.latency`` (histogram, seconds; ``guardrail.stage``): scorer latency;
* ``guardrail.scorer.failures`` (counter; ``guardrail.failure_mode`` ``fail_open`` or
  ``fail_closed``): scorer failures and the outcome the policy chose for them;
* ``guardrail.review.queue.depth`` (gauge; ``guardrail.review.queue``): pending review items
  of the stores registered with :meth:`Telemetry.observe_review_queue`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from guardrail import __version__
from guardrail._optional import require
from guardrail.errors import GuardrailRuntimeError

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
    from opentelemetry.trace import TracerProvider

    from guardrail.audit.run import AuditRun
    from guardrail.telemetry.run import TracedRun

__all__ = ["Telemetry", "configure_telemetry", "current_telemetry", "disable_telemetry"]

logger = logging.getLogger(__name__)

ENV_OTEL = "GUARDRAIL_OTEL"
SCOPE = "finece-guardrail"


class _Depth(Protocol):
    def pending_counts(self) -> dict[str, int]: ...


class Telemetry:
    """A tracer and the guard's metric instruments.

    ``tracer_provider`` and ``meter_provider`` default to OpenTelemetry's global providers
    (``opentelemetry.trace.set_tracer_provider`` and ``opentelemetry.metrics``).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        require("opentelemetry.trace", "otel")
        from opentelemetry import metrics, trace

        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.checkpoints = meter.create_counter(
            "guardrail.checkpoints", unit="{checkpoint}", description="Checkpoints scored"
        )
        self.decisions = meter.create_counter(
            "guardrail.decisions", unit="{decision}", description="Policy decisions by action"
        )
        self.scorer_latency = meter.create_histogram(
            "guardrail.scorer.latency", unit="s", description="Scorer latency per checkpoint"
        )
        self.scorer_failures = meter.create_counter(
            "guardrail.scorer.failures",
            unit="{failure}",
            description="Scorer failures by the outcome the policy chose (fail_open, fail_closed)",
        )
        self._queues: list[_Depth] = []
        self._lock = threading.Lock()
        meter.create_observable_gauge(
            "guardrail.review.queue.depth",
            callbacks=[self._observe_depth],
            unit="{item}",
            description="Review items waiting for a decision, per queue",
        )

    def traced_run(
        self,
        audit: AuditRun | None,
        *,
        run_id: str | None,
        policy: str,
        policy_version: str | int | None = None,
    ) -> TracedRun:
        """The recorder of one guarded call: spans here, records in ``audit`` (if any)."""
        from guardrail.telemetry.run import TracedRun

        return TracedRun(self, audit, run_id=run_id, policy=policy, policy_version=policy_version)

    def observe_review_queue(self, store: _Depth) -> None:
        """Report ``store.pending_counts()`` as the review queue depth gauge."""
        with self._lock:
            self._queues.append(store)

    def forget_review_queue(self, store: _Depth) -> None:
        """Stop reporting ``store``."""
        with self._lock:
            self._queues = [queue for queue in self._queues if queue is not store]

    def _observe_depth(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        with self._lock:
            queues = list(self._queues)
        totals: dict[str, int] = {}
        for queue in queues:
            try:
                counts = queue.pending_counts()
            except GuardrailRuntimeError as exc:  # a gauge must not break the exporter
                logger.warning("review queue depth unavailable from %r: %s", queue, exc)
                continue
            for name, count in counts.items():
                totals[name] = totals.get(name, 0) + count
        return [
            Observation(count, {"guardrail.review.queue": name}) for name, count in totals.items()
        ]


_state_lock = threading.Lock()
_current: Telemetry | None = None
_env_checked = False


def configure_telemetry(
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> Telemetry:
    """Turn tracing and metrics on for every guarded call of this process; return them."""
    global _current
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    with _state_lock:
        _current = telemetry
    return telemetry


def disable_telemetry() -> None:
    """Turn tracing and metrics off again."""
    global _current, _env_checked
    with _state_lock:
        _current = None
        _env_checked = True


def current_telemetry() -> Telemetry | None:
    """The configured :class:`Telemetry`, or ``None`` when it is off (the default).

    ``GUARDRAIL_OTEL=1`` (``true``, ``on``) configures it on first call with the global
    providers.
    """
    global _env_checked
    if _current is None and not _env_checked:
        with _state_lock:
            wanted = os.environ.get(ENV_OTEL, "").strip().lower() in ("1", "true", "on", "yes")
            _env_checked = True
        if wanted:
            return configure_telemetry()
    return _current
