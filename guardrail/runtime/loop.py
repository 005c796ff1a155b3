"""GuardLoop: carrying out decisions, one attempt after another, for any framework.

A framework adapter runs attempts (generating the answer with a
:class:`~guardrail.runtime.watch.AnswerWatch` attached) and reports each as an
:class:`AttemptReport`; :meth:`GuardLoop.settle` turns the report into the next step:

* :class:`Again` - run another attempt (``retry``: same model after the policy's backoff, at the
  retry temperature; ``escalate``: the policy's next model; ``self_correct``: the same model
  re-asked with the feedback template, which names the least confident span);
* :class:`Review` - hand the answer to the review sink (blocking: wait for the verdict;
  provisional: return the answer at once, pending review);
* :class:`Finish` - return the result (the answer, or the policy's fallback answer);
* :class:`Fail` - raise the signal (an abort without fallback, a rejected review).

:mod:`guardrail.runtime.drive` runs the loop with tenacity (the backoff is the policy's) and
carries out review steps; :class:`~guardrail.runtime.ledger.CallLedger` keeps the records.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.policy import Decision, Policy
from guardrail.policy.actions import (
    AbortAction,
    EscalateAction,
    HumanReviewAction,
    RetryAction,
    SelfCorrectAction,
)
from guardrail.runtime.ledger import CallLedger
from guardrail.runtime.options import DEFAULT_MAX_ATTEMPTS, DEFAULT_REVIEW_TIMEOUT_S
from guardrail.runtime.records import (
    ActionRecord,
    AttemptKind,
    AttemptPlan,
    AttemptRecord,
    AttemptReport,
    GuardedResult,
    GuardStatus,
)
from guardrail.runtime.review import (
    ReviewItemPayload,
    ReviewOutcome,
    ReviewSink,
    review_request,
)
from guardrail.runtime.signals import GuardAborted, ReviewRejected
from guardrail.runtime.spans import least_confident_span
from guardrail.runtime.watch import WatchListener

if TYPE_CHECKING:
    from guardrail.audit.sink import AuditSink

__all__ = ["Again", "AttemptPlan", "AttemptReport", "Fail", "Finish", "GuardLoop", "Review", "Step"]


@dataclass(frozen=True, slots=True)
class Again:
    """Run ``plan`` after ``delay_s`` seconds."""

    plan: AttemptPlan
    delay_s: float
    action: ActionRecord


@dataclass(frozen=True, slots=True)
class Review:
    """Submit ``request`` to the review sink; wait for the verdict when ``blocking``."""

    request: ReviewItemPayload
    blocking: bool
    report: AttemptReport


@dataclass(frozen=True, slots=True)
class Finish:
    """The call is over: return ``result``."""

    result: GuardedResult


@dataclass(frozen=True, slots=True)
class Fail:
    """The call is over: raise ``signal`` (its ``result`` attribute holds the record)."""

    signal: GuardSignal


Step = Again | Review | Finish | Fail


def _identity(text: str) -> Any:
    return text


class GuardLoop:
    """The action state machine of one guarded call (see the module documentation).

    ``question`` is what the scorer and the review item see; ``model`` the first generator's
    name. ``output_from_text`` rebuilds an output object from text (fallback and edited
    answers). ``audit`` is an optional :class:`guardrail.audit.AuditRun`; ``listener`` hears
    ``("action", ...)`` and ``("result", ...)``. ``max_attempts`` caps attempts of any kind.
    Review items are submitted with the dedupe key ``"{dedupe_key}:{attempt}"`` (``dedupe_key``
    defaults to ``run_id``): a call that is repeated with the same key (a LangGraph task re-run)
    finds its item instead of enqueueing a second one.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        question: str,
        model: str = "",
        output_from_text: Callable[[str], object] = _identity,
        review_sink: ReviewSink | None = None,
        audit: AuditSink | None = None,
        listener: WatchListener | None = None,
        run_id: str | None = None,
        metadata: Mapping[str, object] | None = None,
        dedupe_key: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        review_timeout_s: float = DEFAULT_REVIEW_TIMEOUT_S,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise GuardrailConfigError(f"max_attempts must be >= 1, got {max_attempts}")
        self.policy = policy
        self.question = question
        self.output_from_text = output_from_text
        self.review_sink = review_sink
        self.run_id = run_id
        self.metadata = dict(metadata or {})
        self.dedupe_key = dedupe_key if dedupe_key is not None else run_id
        self.max_attempts = max_attempts
        self.review_timeout_s = review_timeout_s
        self._rng = rng
        self.plan = AttemptPlan(attempt=1, model=model)
        self.ledger = CallLedger(
            policy_name=policy.name,
            run_id=run_id,
            audit=audit,
            listener=listener,
            clock=clock,
            start={"question": question, "model": model, "run_id": run_id},
        )

    @property
    def attempts(self) -> tuple[AttemptRecord, ...]:
        """The attempts recorded so far."""
        return tuple(self.ledger.attempts)

    @property
    def actions(self) -> tuple[ActionRecord, ...]:
        """The actions carried out so far."""
        return tuple(self.ledger.actions)

    # ---------------------------------------------------------------------- steps
    def settle(self, report: AttemptReport) -> Step:
        """Record the attempt ``report`` describes and decide the next step."""
        self.ledger.attempt(self.plan, report)
        decision = None if report.signal is None else report.signal.decision
        if decision is None:
            return self._completed(report)
        match decision.action:
            case RetryAction() as action:
                return self._retry(action, decision, report)
            case EscalateAction() as action:
                return self._escalate(action, decision, report)
            case SelfCorrectAction() as action:
                return self._self_correct(action, decision, report)
            case HumanReviewAction():
                return self._review(decision, report, partial=report.partial, blocking=True)
            case AbortAction() as action:
                return self._abort(action, decision, report)
            case _:
                return self._completed(report)

    def reviewed(self, review_id: str, outcome: ReviewOutcome, report: AttemptReport) -> Step:
        """A blocking review was decided: release the (edited) answer or fail on a reject."""
        decision = report.signal.decision if report.signal is not None else report.pending_review
        self._act(
            "human_review",
            decision,
            f"review {review_id} {outcome.verdict}",
            {"review_id": review_id, "verdict": outcome.verdict, "reviewer": outcome.reviewer},
        )
        if outcome.verdict == "reject" or outcome.answer is None:
            signal = ReviewRejected(
                f"guardrail: human review {review_id} rejected the answer",
                decision=decision,
                events=report.events,
                partial_answer=report.answer,
            )
            return self._fail(signal, "rejected", review_id)
        status: GuardStatus = "edited" if outcome.verdict == "edit" else "approved"
        output = report.output
        if outcome.verdict == "edit" or report.signal is not None or output is None:
            output = self.output_from_text(outcome.answer)
        return self._finish(status, output, outcome.answer, review_id)

    def review_pending(self, review_id: str, report: AttemptReport) -> Step:
        """A review was submitted and not waited on: return the answer now, marked pending.

        The action records the rule that fired and its mode: a provisional review, or a
        blocking one the adapter asks after the call (LangGraph's ``interrupt()``).
        """
        decision = report.pending_review
        if decision is None and report.signal is not None:
            decision = report.signal.decision
        action = None if decision is None else decision.action
        mode = action.mode if isinstance(action, HumanReviewAction) else "provisional"
        self._act(
            "human_review",
            decision,
            f"review {review_id} pending",
            {"review_id": review_id, "mode": mode},
        )
        return self._finish("pending_review", report.output, report.answer, review_id)

    def abandon(self, error: BaseException) -> None:
        """The call ended on an error that is not a guard decision: audit it and end the run."""
        self.ledger.abandon(error, self.plan.attempt)

    # ------------------------------------------------------------------ internals
    def _completed(self, report: AttemptReport) -> Step:
        if report.pending_review is not None:
            return self._review(report.pending_review, report, partial=False, blocking=False)
        status: GuardStatus = "flagged" if report.flags else "ok"
        for flag in report.flags:
            self.ledger.emit("action", {"type": "flag", **flag})
        return self._finish(status, report.output, report.answer, None)

    def _next(self, kind: AttemptKind, **changes: Any) -> AttemptPlan | None:
        attempt = self.plan.attempt + 1
        if attempt > self.max_attempts:
            return None
        return replace(self.plan, attempt=attempt, kind=kind, **changes)

    def _again(
        self, plan: AttemptPlan | None, delay: float, decision: Decision, report: AttemptReport
    ) -> Step:
        if plan is None:
            abort = AbortAction(message=f"Stopped after {self.max_attempts} attempts.")
            return self._abort(abort, decision, report)
        detail = {"next_attempt": plan.attempt, "model": plan.model, "delay_s": delay}
        if plan.temperature is not None:
            detail["temperature"] = plan.temperature
        action = self._act(plan.kind, decision, f"attempt {plan.attempt} scheduled", detail)
        self.plan = plan
        return Again(plan, delay, action)

    def _retry(self, action: RetryAction, decision: Decision, report: AttemptReport) -> Step:
        self.ledger.retries += 1
        low, high = action.backoff.delay_bounds(self.ledger.retries)
        delay = low + (high - low) * self._rng()
        plan = self._next("retry", temperature=action.temperature, feedback=None)
        return self._again(plan, delay, decision, report)

    def _escalate(self, action: EscalateAction, decision: Decision, report: AttemptReport) -> Step:
        target = action.next_target(decision.context.model)
        if target is None:  # the engine resolves exhaustion; this only guards odd contexts
            fallback = action.on_exhausted
            if isinstance(fallback, AbortAction):
                return self._abort(fallback, decision, report)
            return self._completed(report)
        plan = self._next("escalate", model=target, temperature=None, feedback=None)
        return self._again(plan, 0.0, decision, report)

    def _self_correct(
        self, action: SelfCorrectAction, decision: Decision, report: AttemptReport
    ) -> Step:
        if self.plan.correction_round >= action.max_rounds:
            abort = AbortAction(
                message=f"Self-correction rounds exhausted ({action.max_rounds}); "
                "the answer is still uncertain."
            )
            return self._abort(abort, decision, report)
        span = least_confident_span(report.answer, report.events)
        event = decision.event
        confidence = event.revised if event is not None else 0.0
        feedback = action.render(
            question=self.question,
            answer=report.answer,
            confidence=confidence,
            least_confident_span=span.text,
        )
        plan = self._next(
            "self_correct",
            feedback=feedback,
            correction_round=self.plan.correction_round + 1,
            temperature=None,
        )
        return self._again(plan, 0.0, decision, report)

    def _review(
        self, decision: Decision, report: AttemptReport, *, partial: bool, blocking: bool
    ) -> Step:
        if self.review_sink is None:
            raise GuardrailConfigError(
                f"policy {self.policy.name!r} asks for human review (rule {decision.rule!r}) "
                "but no review sink was given"
            )
        request = review_request(
            question=self.question,
            answer=report.answer,
            partial=partial,
            decision=decision,
            events=report.events,
            attempts=self.ledger.attempts[:-1],
            model=self.plan.model or None,
            run_id=self.run_id,
            metadata=self.metadata,
            dedupe_key=None
            if self.dedupe_key is None
            else f"{self.dedupe_key}:{self.plan.attempt}",
        )
        return Review(request, blocking, report)

    def _abort(self, action: AbortAction, decision: Decision, report: AttemptReport) -> Step:
        if action.fallback_answer is not None:
            self._act("abort", decision, "fallback answer returned", {"message": action.message})
            output = self.output_from_text(action.fallback_answer)
            return self._finish("fallback", output, action.fallback_answer, None)
        self._act("abort", decision, "aborted", {"message": action.message})
        signal = report.signal
        if not isinstance(signal, GuardAborted) or signal.decision is not decision:
            signal = GuardAborted(
                f"guardrail: abort: {action.message}",
                decision=decision,
                events=report.events,
                partial_answer=report.answer,
            )
        return self._fail(signal, "aborted", None)

    def _act(
        self, kind: str, decision: Decision | None, outcome: str, detail: dict[str, Any]
    ) -> ActionRecord:
        return self.ledger.act(kind, decision, outcome, detail)

    def _finish(
        self, status: GuardStatus, output: Any, answer: str, review_id: str | None
    ) -> Finish:
        result = self.ledger.result(status, output, answer, review_id)
        self.ledger.end(result)
        return Finish(result)

    def _fail(self, signal: GuardSignal, status: GuardStatus, review_id: str | None) -> Fail:
        result = self.ledger.result(status, None, signal.partial_answer, review_id)
        signal.result = result
        self.ledger.end(result)
        return Fail(signal)
