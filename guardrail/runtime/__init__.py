"""Carrying out guard decisions, for any framework: watch an answer, then act on the policy.

* :class:`AnswerWatch` scores one streamed answer and raises the guard signal of an
  interrupting decision (:mod:`guardrail.runtime.signals`).
* :class:`GuardLoop` turns each attempt's outcome into the next step: retry with backoff,
  escalate to the next model, self-correct with feedback naming the least confident span,
  hand the answer to human review, or abort (raise, or return the fallback answer).
* :class:`GuardConfig` bundles the policy, scorer, review sink and audit log for a guarded call.

Adapters (``guardrail.integrations.langchain``, a litellm wrapper) only translate their streams
and runnables. Importing this package imports neither torch nor any LLM framework.
"""

from guardrail.runtime.config import (
    USE_POLICY,
    GuardConfig,
    PolicyLike,
    policy_action_types,
    resolve_policy,
)
from guardrail.runtime.drive import (
    NextAttempt,
    aresolve_review,
    aretrying,
    arun_attempts,
    conclude,
    resolve_review,
    retrying,
    run_attempts,
)
from guardrail.runtime.ledger import CallLedger
from guardrail.runtime.loop import (
    Again,
    AttemptPlan,
    AttemptReport,
    Fail,
    Finish,
    GuardLoop,
    Review,
    Step,
)
from guardrail.runtime.records import (
    ActionRecord,
    AttemptKind,
    AttemptRecord,
    GuardedResult,
    GuardStatus,
    decision_summary,
)
from guardrail.runtime.review import (
    BlockingReviewSink,
    DefaultReviewSink,
    MemoryReviewSink,
    QueueReviewSink,
    ReviewOutcome,
    ReviewSink,
    ReviewWaitTimeout,
    as_review_sink,
    review_request,
)
from guardrail.runtime.signals import (
    EscalationRequested,
    GuardAborted,
    HumanReviewRequested,
    RetryRequested,
    ReviewRejected,
    SelfCorrectionRequested,
    interrupts,
    signal_for,
)
from guardrail.runtime.spans import Span, least_confident_span
from guardrail.runtime.watch import AnswerWatch, WatchListener, WatchMode

__all__ = [
    "USE_POLICY",
    "ActionRecord",
    "Again",
    "AnswerWatch",
    "AttemptKind",
    "AttemptPlan",
    "AttemptRecord",
    "AttemptReport",
    "BlockingReviewSink",
    "CallLedger",
    "DefaultReviewSink",
    "EscalationRequested",
    "Fail",
    "Finish",
    "GuardAborted",
    "GuardConfig",
    "GuardLoop",
    "GuardStatus",
    "GuardedResult",
    "HumanReviewRequested",
    "MemoryReviewSink",
    "NextAttempt",
    "PolicyLike",
    "QueueReviewSink",
    "RetryRequested",
    "Review",
    "ReviewOutcome",
    "ReviewRejected",
    "ReviewSink",
    "ReviewWaitTimeout",
    "SelfCorrectionRequested",
    "Span",
    "Step",
    "WatchListener",
    "WatchMode",
    "aresolve_review",
    "aretrying",
    "arun_attempts",
    "as_review_sink",
    "conclude",
    "decision_summary",
    "interrupts",
    "least_confident_span",
    "policy_action_types",
    "resolve_policy",
    "resolve_review",
    "retrying",
    "review_request",
    "run_attempts",
    "signal_for",
]
