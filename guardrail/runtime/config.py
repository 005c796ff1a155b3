"""GuardConfig: a policy, a scorer and the runtime's settings, shared by every guarded call."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from guardrail.errors import GuardrailConfigError
from guardrail.monitor import FutureSampler
from guardrail.policy import Policy, PolicyEngine, RunContext, list_presets, load_preset
from guardrail.runtime.drift import CalibrationDriftMonitor, SinkItems, uses_calibration_drift
from guardrail.runtime.loop import GuardLoop
from guardrail.runtime.options import USE_POLICY, GuardOptions, GuardSettings
from guardrail.runtime.review import (
    DefaultReviewSink,
    QueueReviewSink,
    ReviewSink,
    as_review_sink,
)
from guardrail.runtime.watch import AnswerWatch, WatchListener, WatchMode
from guardrail.scorers.base import Scorer
from guardrail.scorers.tickets import CheckpointScoring

if TYPE_CHECKING:
    from guardrail.audit.log import AuditLog
    from guardrail.audit.sink import AuditSink

__all__ = ["USE_POLICY", "GuardConfig", "PolicyLike", "policy_action_types", "resolve_policy"]

PolicyLike = Policy | str | os.PathLike[str] | Mapping[str, Any]
"""A :class:`Policy`, a preset name, a policy file path, YAML text or a policy mapping."""


def resolve_policy(policy: PolicyLike) -> Policy:
    """``policy`` as a validated :class:`Policy` (see :data:`PolicyLike`)."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Mapping):
        return Policy.from_dict(policy)
    if isinstance(policy, str) and "\n" in policy:
        return Policy.from_text(policy)
    if isinstance(policy, str) and policy in list_presets():
        return load_preset(policy)
    path = Path(policy)
    if path.is_file():
        return Policy.from_file(path)
    raise GuardrailConfigError(
        f"policy {str(policy)!r} is neither a preset ({', '.join(list_presets())}) nor a file"
    )


def policy_action_types(policy: Policy) -> frozenset[str]:
    """Every action type the policy may decide, ``on_exhausted`` fallbacks included."""
    found: set[str] = set()
    pending: list[Any] = [rule.action for rule in policy.rules]
    pending.append(policy.default_action)
    while pending:
        action = pending.pop()
        found.add(action.type)
        fallback = getattr(action, "on_exhausted", None)
        if fallback is not None:
            pending.append(fallback)
    if policy.on_error == "fail_closed":
        found.add("abort")
    return frozenset(found)


class GuardConfig:
    """Everything a guarded call needs: policy and engine, scorer, review sink, audit log.

    ``scorer`` ``None`` loads ``policy.scorer.model`` on first use
    (:func:`guardrail.scorers.create_scorer`). ``options`` (or the same names as keywords,
    :class:`~guardrail.runtime.options.GuardSettings`) are the call's settings:
    ``mode="observe"`` records decisions without acting on them; ``latency_budget_s``
    defaults to the policy's (``None`` disables the check); ``max_attempts`` and
    ``review_timeout_s`` bound the loop and a blocking review.
    ``review`` is a :class:`~guardrail.runtime.review.ReviewSink` or a review queue; without
    one, a policy that may ask for human review uses the project's review queue at its default
    path (:class:`~guardrail.runtime.review.DefaultReviewSink`, opened on first use).
    ``audit`` is a :class:`guardrail.audit.AuditLog`; each call records one audit run in it.
    ``scoring`` is where checkpoints are scored; by default the process's
    :class:`~guardrail.scoring_worker.ScoringWorker` for the scorer (one thread that batches
    the checkpoints of concurrent calls and bounds each wait by ``latency_budget_s``).
    ``drift`` puts the live calibration over the last decided review items into every
    answer's run context (``RunContext.calibration``, read by ``calibration_drift``); a policy
    with that condition and no ``drift`` gets a
    :class:`~guardrail.runtime.drift.CalibrationDriftMonitor` over its review queue.
    """

    def __init__(
        self,
        policy: PolicyLike,
        scorer: Scorer | None = None,
        *,
        review: object | None = None,
        audit: AuditLog | None = None,
        future_sampler: FutureSampler | None = None,
        scoring: CheckpointScoring | None = None,
        drift: CalibrationDriftMonitor | None = None,
        options: GuardOptions | None = None,
        **settings: Unpack[GuardSettings],
    ) -> None:
        self.options = GuardOptions.of(options, **settings)
        self.policy = resolve_policy(policy)
        self.engine = PolicyEngine(self.policy)
        self.mode: WatchMode = self.options.mode
        if review is not None:
            self.review_sink: ReviewSink | None = as_review_sink(review)
        elif "human_review" in policy_action_types(self.policy):
            self.review_sink = DefaultReviewSink()
        else:
            self.review_sink = None
        self.audit = audit
        budget = self.options.latency_budget_s
        if budget == USE_POLICY:
            self.latency_budget_s: float | None = self.policy.scorer.latency_budget_s
        else:
            assert budget is None or isinstance(budget, int | float)  # GuardOptions checked it
            self.latency_budget_s = budget
        self.future_sampler = future_sampler
        self.max_attempts = self.options.max_attempts
        self.review_timeout_s = self.options.review_timeout_s
        self._scorer = scorer
        self._scorer_lock = threading.Lock()
        self._scoring = scoring
        self.drift = drift
        if drift is None and uses_calibration_drift(self.policy):
            self.drift = self._default_drift()

    def _default_drift(self) -> CalibrationDriftMonitor:
        """A drift monitor over the review queue (the default queue when no sink is set)."""
        sink = self.review_sink if self.review_sink is not None else DefaultReviewSink()
        if not isinstance(sink, QueueReviewSink):
            raise GuardrailConfigError(
                f"policy {self.policy.name!r} uses calibration_drift, which reads decided "
                f"review items, but the review sink {sink!r} has no review queue to read: pass "
                "review= a review queue or drift= a CalibrationDriftMonitor"
            )
        return CalibrationDriftMonitor(SinkItems(sink))

    @property
    def scorer(self) -> Scorer:
        """The scorer, loaded from the policy's ``scorer.model`` on first use when not given."""
        if self._scorer is None:
            with self._scorer_lock:
                if self._scorer is None:
                    from guardrail.scorers import scorer_for_settings

                    self._scorer = scorer_for_settings(self.policy.scorer)
        return self._scorer

    @property
    def scorer_reads_logprobs(self) -> bool:
        """Whether the scorer reads the generator's token logprobs (``logprob:``, ``hybrid:``).

        Decided without loading a scorer that was not given: from the policy's ``scorer.model``.
        """
        from guardrail.scorers import reads_generator_logprobs

        if self._scorer is not None:
            return reads_generator_logprobs(self._scorer.name)
        return reads_generator_logprobs(self.policy.scorer.model)

    @property
    def scoring(self) -> CheckpointScoring:
        """Where checkpoints are scored (the scorer's process-wide worker unless given).

        A :class:`~guardrail.scorers.remote.RemoteScorer` is called from each stream's own
        thread instead: the service batches the checkpoints of every process, and each call
        is bounded by the latency budget end to end (one worker thread would serialise them).
        """
        if self._scoring is None:
            from guardrail.scorers.remote import RemoteScorer
            from guardrail.scorers.tickets import DirectScoring
            from guardrail.scoring_worker import ScoringWorker

            scorer = self.scorer
            with self._scorer_lock:
                if self._scoring is None:
                    self._scoring = (
                        DirectScoring(scorer)
                        if isinstance(scorer, RemoteScorer)
                        else ScoringWorker.for_scorer(scorer)
                    )
        return self._scoring

    def audit_run(self, run_id: str | None) -> AuditSink | None:
        """The recorder of one call: an audit run, wrapped in spans when telemetry is on.

        A :class:`guardrail.audit.AuditRun` (``None`` without audit log), inside a
        :class:`guardrail.telemetry.TracedRun` when :mod:`guardrail.telemetry` is configured.
        """
        from guardrail.telemetry.instruments import current_telemetry

        run = None
        if self.audit is not None:
            from guardrail.audit import AuditRun
            from guardrail.audit.on_error import PolicyAuditLog

            run = AuditRun(
                PolicyAuditLog(self.audit, self.policy.audit.on_error),
                run_id=run_id,
                policy=self.policy.name,
                policy_version=self.policy.version,
            )
        telemetry = current_telemetry()
        if telemetry is None:
            return run
        return telemetry.traced_run(
            run, run_id=run_id, policy=self.policy.name, policy_version=self.policy.version
        )

    def watch(
        self,
        question: str,
        context: RunContext,
        *,
        audit: AuditSink | None = None,
        listener: WatchListener | None = None,
    ) -> AnswerWatch:
        """A new :class:`AnswerWatch` for one answer (one attempt of a call)."""
        from guardrail.telemetry.run import TracedRun

        if isinstance(audit, TracedRun):
            audit.begin_attempt(context.attempt, context.model)
        if self.drift is not None and context.calibration is None:
            context = dataclasses.replace(context, calibration=self.drift.reading())
        return AnswerWatch(
            self.engine,
            self.scorer,
            question,
            context=context,
            mode=self.mode,
            audit=audit,
            listener=listener,
            latency_budget_s=self.latency_budget_s,
            future_sampler=self.future_sampler,
            scoring=self.scoring,
        )

    def loop(
        self,
        question: str,
        *,
        model: str = "",
        output_from_text: Callable[[str], object] | None = None,
        run_id: str | None = None,
        audit: AuditSink | None = None,
        listener: WatchListener | None = None,
        metadata: Mapping[str, object] | None = None,
        dedupe_key: str | None = None,
        rng: Callable[[], float] | None = None,
    ) -> GuardLoop:
        """A new :class:`GuardLoop` for one call."""
        options: dict[str, Any] = {}
        if output_from_text is not None:
            options["output_from_text"] = output_from_text
        if rng is not None:
            options["rng"] = rng
        return GuardLoop(
            self.policy,
            question=question,
            model=model,
            review_sink=self.review_sink,
            audit=audit,
            listener=listener,
            run_id=run_id,
            metadata=metadata,
            dedupe_key=dedupe_key,
            max_attempts=self.max_attempts,
            review_timeout_s=self.review_timeout_s,
            **options,
        )
