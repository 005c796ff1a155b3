"""Carrying out guard decisions, for any framework: watch an answer, then act on the policy.

* :class:`AnswerWatch` scores one streamed answer and raises the guard signal of an
  interrupting decision (:mod:`guardrail.runtime.signals`).
* :class:`StreamGate` runs one guarded call's attempts as a state machine its adapter feeds:
  it releases the chunks (pass-through or held back, :class:`ChunkGate`), reports each attempt
  to the action loop (:mod:`guardrail.runtime.loop`: retry with backoff, escalate to the next
  model, self-correct, human review, abort) and closes it with restart and final markers.
  :func:`drive` / :func:`adrive` (streams) and :func:`run_call` / :func:`arun_call` (results)
  are its sync and async drivers.
* :class:`GuardedCall` is one guarded call as an adapter sees it: built from a
  :class:`GuardConfig` and a :class:`CallSpec`, it owns the audit run, the loop, the gate and
  the reviews, and runs the adapter's :class:`Attempt` objects (sync drivers generated from
  the async ones, :mod:`guardrail.runtime._async.drive`).
* :class:`GuardOptions` is the call's settings (mode, latency budget, attempts, review
  timeout, streaming, backoff clocks), one typed object shared by every entry point with its
  defaults defined once (:mod:`guardrail.runtime.options`).
* :class:`GuardConfig` bundles the policy, scorer, review sink and audit log for a guarded call.

Adapters (``guardrail.integrations.langchain``, ``guardrail.integrations.litellm``) only
translate their streams and runnables. Importing this package imports neither torch nor any
LLM framework. The loop, the ledger and the drivers' parts stay in their modules.
"""

from guardrail.runtime._steps import Attempt, AttemptOutput, Watcher
from guardrail.runtime.call import CallSpec, ChunkWatcher, GuardedCall, OpenAttempt
from guardrail.runtime.chunks import ChunkGate, StreamingMode
from guardrail.runtime.config import GuardConfig, PolicyLike, resolve_policy
from guardrail.runtime.drive import adrive, aresolve_review, arun_call, drive, run_call
from guardrail.runtime.gate import Frames, MarkerKind, StreamGate
from guardrail.runtime.loop import Fail, Finish, Step
from guardrail.runtime.options import (
    DEFAULT_REVIEW_TIMEOUT_S,
    USE_POLICY,
    GuardOptions,
    GuardSettings,
)
from guardrail.runtime.records import (
    AttemptPlan,
    GuardedResult,
    GuardStatus,
    GuardSummary,
    SummaryAction,
)
from guardrail.runtime.review import MemoryReviewSink, QueueReviewSink, ReviewOutcome, ReviewSink
from guardrail.runtime.signals import (
    EscalationRequested,
    GuardAborted,
    HumanReviewRequested,
    RetryRequested,
    ReviewRejected,
    SelfCorrectionRequested,
)
from guardrail.runtime.watch import AnswerWatch, WatchMode

__all__ = [
    "DEFAULT_REVIEW_TIMEOUT_S",
    "USE_POLICY",
    "AnswerWatch",
    "Attempt",
    "AttemptOutput",
    "AttemptPlan",
    "CallSpec",
    "ChunkGate",
    "ChunkWatcher",
    "EscalationRequested",
    "Fail",
    "Finish",
    "Frames",
    "GuardAborted",
    "GuardConfig",
    "GuardOptions",
    "GuardSettings",
    "GuardStatus",
    "GuardSummary",
    "GuardedCall",
    "GuardedResult",
    "HumanReviewRequested",
    "MarkerKind",
    "MemoryReviewSink",
    "OpenAttempt",
    "PolicyLike",
    "QueueReviewSink",
    "RetryRequested",
    "ReviewOutcome",
    "ReviewRejected",
    "ReviewSink",
    "SelfCorrectionRequested",
    "Step",
    "StreamGate",
    "StreamingMode",
    "SummaryAction",
    "WatchMode",
    "Watcher",
    "adrive",
    "aresolve_review",
    "arun_call",
    "drive",
    "resolve_policy",
    "run_call",
]
