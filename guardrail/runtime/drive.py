"""Driving a guarded call: tenacity for the attempts, the review sink for review steps.

:func:`drive` / :func:`adrive` run a :class:`~guardrail.runtime.gate.StreamGate`'s attempts
and yield what it releases; :func:`run_call` / :func:`arun_call` run them for the result alone. The
adapter's ``attempt(plan)`` runs one attempt in its framework (feeding the gate, yielding what
:meth:`~guardrail.runtime.gate.StreamGate.push` releases) and ends it with
:meth:`~guardrail.runtime.gate.StreamGate.end`; the driver settles it, carries out a review
step, yields the closing chunks and then runs the next attempt after the policy's delay (a
tenacity loop retried on :class:`NextAttempt`), returns, or raises the call's signal.
:func:`run_attempts` drives a bare :class:`~guardrail.runtime.loop.GuardLoop` whose attempts
return their own :class:`~guardrail.runtime.records.AttemptReport`.

The async drivers are written once (:mod:`guardrail.runtime._async.drive`); the sync ones are
generated from them (:mod:`guardrail.runtime._sync.drive`, ``scripts/unasync.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from guardrail.runtime._async.drive import (
    adrive,
    aresolve_review,
    aretrying,
    arun_attempt,
    arun_call,
)
from guardrail.runtime._steps import NextAttempt, conclude
from guardrail.runtime._sync.drive import drive, resolve_review, retrying, run_attempt, run_call
from guardrail.runtime.gate import StreamGate
from guardrail.runtime.loop import GuardLoop
from guardrail.runtime.records import AttemptPlan, AttemptReport, GuardedResult

__all__ = [
    "NextAttempt",
    "adrive",
    "aresolve_review",
    "aretrying",
    "arun_attempt",
    "arun_call",
    "conclude",
    "drive",
    "resolve_review",
    "retrying",
    "run_attempt",
    "run_attempts",
    "run_call",
]


def run_attempts(
    loop: GuardLoop,
    attempt: Callable[[AttemptPlan], AttemptReport],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> GuardedResult:
    """Run attempts that report themselves until the loop finishes; return its result."""
    gate: StreamGate[object] = StreamGate(loop, streaming=None)

    def reported(plan: AttemptPlan) -> tuple[()]:
        gate.report = attempt(plan)
        return ()

    return run_call(gate, reported, sleep=sleep)
