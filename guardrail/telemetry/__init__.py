"""OpenTelemetry traces and metrics of guarded calls; off unless configured.

::

    from guardrail.telemetry import configure_telemetry
    configure_telemetry()            # the global tracer and meter providers (set up the SDK first)

Every guarded call then gets a span, with a child span per attempt, a
``gen_ai.evaluation.result`` event per checkpoint and a span event per action; audit records
carry the trace and span ids. Metrics: checkpoints, decisions by action, scorer latency,
fail-open and fail-closed outcomes, review queue depth. ``GUARDRAIL_OTEL=1`` in the environment
configures it on first use with the global providers. Needs the ``otel`` extra.
"""

from guardrail.telemetry.instruments import (
    Telemetry,
    configure_telemetry,
    current_telemetry,
    disable_telemetry,
)
from guardrail.telemetry.run import TracedRun

__all__ = [
    "Telemetry",
    "TracedRun",
    "configure_telemetry",
    "current_telemetry",
    "disable_telemetry",
]
