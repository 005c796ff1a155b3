"""AnswerWatch: one streamed answer scored by a monitor and judged by a policy.

The framework adapters (the LangChain callback handler, a litellm stream wrapper) translate
their stream into :meth:`AnswerWatch.feed` calls; the watch asks its
:class:`~guardrail.monitor.ConfidenceMonitor` for checkpoints, asks the
:class:`~guardrail.policy.PolicyEngine` for a decision at each one, records everything, and
raises the guard signal (:mod:`guardrail.runtime.signals`) of an interrupting decision.

* ``mode="observe"`` records every decision and never raises: an observe-only rollout.
* ``continue`` and ``flag`` never interrupt (flags are recorded); a provisional
  ``human_review`` is remembered in :attr:`AnswerWatch.pending_review` and settled by the
  runtime once the answer is complete.
* A scorer failure (or a question/outcome estimate not in by the deadline
  ``latency_budget_s``) becomes the policy's ``on_error`` decision: ``fail_open`` stops
  scoring and lets the answer continue, ``fail_closed`` aborts it. The late result is
  discarded and the audit's error record says so.
* When the scorer falls behind (a process checkpoint over the deadline, or requested while
  the scorer is behind), the policy's ``overload`` applies: ``skip_process`` skips the
  checkpoint (an ``overload`` action record in the audit, an ``overload`` event to the
  listener) and the answer goes on; ``fail_open``/``fail_closed`` act as above (audited as an
  error record naming the overload).
* ``checkpoints.blocking: false``: tokens keep flowing while a checkpoint is scored (by
  ``scoring``, normally the process's :class:`~guardrail.scoring_worker.ScoringWorker`); its
  decision applies at the first ``feed`` (or ``poll``/``finish``) after the score landed, and
  the event's ``tokens_passed`` says how many tokens streamed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from guardrail.errors import (
    GuardrailRuntimeError,
    GuardSignal,
    ScorerOverloadedError,
    ScorerTimeoutError,
)
from guardrail.events import CheckpointEvent
from guardrail.monitor import ConfidenceMonitor, FutureSampler, SkippedCheckpoint
from guardrail.policy import Decision, PolicyEngine, RunContext
from guardrail.policy.decision import FailureMode
from guardrail.runtime.records import decision_summary, flag_payload
from guardrail.runtime.signals import signal_for
from guardrail.scorers.base import Scorer
from guardrail.scorers.card import scorer_for_model
from guardrail.scorers.tickets import CheckpointScoring

if TYPE_CHECKING:
    from guardrail.audit.sink import AuditSink

__all__ = ["AnswerWatch", "WatchListener", "WatchMode"]

WatchMode = Literal["enforce", "observe"]
"""``enforce`` raises interrupting decisions; ``observe`` only records them."""

WatchListener = Callable[[str, Mapping[str, Any]], None]
"""Told ``(kind, payload)`` for each ``checkpoint``, ``decision``, ``flag``, ``overload`` and
``error``."""


class AnswerWatch:
    """Scores one answer to ``question`` and applies ``engine``'s policy at every checkpoint.

    ``audit`` is an optional :class:`guardrail.audit.AuditRun` (anything with ``checkpoint``,
    ``decision`` and ``error`` methods): every checkpoint, decision and scorer failure is
    recorded through it. ``listener`` hears the same events as plain dicts. ``scoring`` is
    where checkpoints are scored (default: ``scorer`` itself, in this thread; the runtime
    passes the process's :class:`~guardrail.scoring_worker.ScoringWorker`, which can bound a
    wait by ``latency_budget_s`` and score beside the stream).
    """

    def __init__(
        self,
        engine: PolicyEngine,
        scorer: Scorer,
        question: str,
        *,
        context: RunContext | None = None,
        mode: WatchMode = "enforce",
        audit: AuditSink | None = None,
        listener: WatchListener | None = None,
        latency_budget_s: float | None = None,
        future_sampler: FutureSampler | None = None,
        scoring: CheckpointScoring | None = None,
    ) -> None:
        policy = engine.policy
        self.engine = engine
        self.question = question
        self.context = context or RunContext()
        self.mode: WatchMode = mode
        self.latency_budget_s = latency_budget_s
        self._audit = audit
        self._listener = listener
        # bound to the model's calibration (logprob scorers); mismatch warned once per process
        bound, self.scorer_mismatch = scorer_for_model(scorer, self.context.model)
        if bound is not scorer:
            scoring = None  # the worker holds the unbound scorer; logprob maths is cheap here
        self._monitor = ConfidenceMonitor(
            bound if scoring is None else scoring,
            question,
            settings=policy.checkpoints,
            bci=policy.bci,
            future_sampler=future_sampler,
            deadline_s=latency_budget_s,
            overload=policy.overload,
            on_skip=self._skip,
            scorer_mismatch=self.scorer_mismatch,
        )
        self._judged = 0
        self._tokens = 0
        self._cleared = 0
        self._skips: list[SkippedCheckpoint] = []
        self._decisions: list[Decision] = []
        self._flags: list[dict[str, object]] = []
        self._text: list[str] = []
        self._scoring = True
        self._passed = 0
        self._started = False
        self._done = False
        self.pending_review: Decision | None = None
        self.signal: GuardSignal | None = None
        self.error: str | None = None

    # ---------------------------------------------------------------------- state
    @property
    def events(self) -> tuple[CheckpointEvent, ...]:
        """Checkpoint events so far (latest BCI revisions)."""
        return self._monitor.events

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """Every decision taken so far, in order."""
        return tuple(self._decisions)

    @property
    def flags(self) -> tuple[dict[str, object], ...]:
        """The flag actions taken so far."""
        return tuple(self._flags)

    @property
    def answer(self) -> str:
        """The answer text fed so far (also after scoring stopped)."""
        return "".join(self._text)

    @property
    def token_count(self) -> int:
        """Non-empty tokens fed so far."""
        return self._tokens

    @property
    def checkpoints_passed(self) -> int:
        """Checkpoints whose decision let the answer go on."""
        return self._passed

    @property
    def cleared_tokens(self) -> int:
        """Answer tokens up to the last checkpoint whose decision let the answer go on."""
        return self._cleared

    @property
    def skipped(self) -> tuple[SkippedCheckpoint, ...]:
        """Process checkpoints skipped because the scorer fell behind (``skip_process``)."""
        return tuple(self._skips)

    @property
    def pending(self) -> int:
        """Checkpoints requested whose score has not landed yet (non-blocking)."""
        return self._monitor.pending

    @property
    def final_confidence(self) -> float | None:
        """The last checkpoint's revised confidence (``None`` before any)."""
        events = self.events
        return events[-1].revised if events else None

    @property
    def done(self) -> bool:
        """True once finished, closed, failed or interrupted."""
        return self._done

    @property
    def scoring(self) -> bool:
        """False once a fail-open scorer failure stopped confidence checks."""
        return self._scoring

    # ------------------------------------------------------------------------ api
    def start(self) -> None:
        """Open the scoring session and judge the question checkpoint (if the policy has one)."""
        if self._started:
            return
        self._started = True
        if self._scoring:
            self._checked(self._monitor.start)

    def feed(self, token_text: str, logprobs: object = None) -> None:
        """Add one streamed token; raise the guard signal if its checkpoint interrupts."""
        if self._done:
            return
        self.start()
        self._text.append(token_text)
        if token_text:
            self._tokens += 1
        if self._scoring and token_text:
            self._checked(lambda: self._monitor.feed(token_text, logprobs))

    def poll(self) -> None:
        """Apply the decisions of the checkpoints whose score landed (non-blocking mode)."""
        if not self._done and self._started and self._scoring:
            self._checked(self._monitor.poll)

    def wait_scored(self, timeout: float | None = None) -> bool:
        """Wait until every requested checkpoint's score is in (not applied: see ``poll``)."""
        return self._monitor.wait(timeout)

    def finish(self) -> None:
        """Score the complete answer (outcome checkpoint) and close the session."""
        if self._done:
            return
        self.start()
        if self._scoring:
            self._checked(self._monitor.finish)
        self._close()

    def end(self) -> None:
        """The stream ended: score the outcome of an answer with text, close one without.

        An answer without text (a turn that only calls tools) is not judged.
        """
        if self.answer.strip():
            self.finish()
        else:
            self.close()

    def abandon(self, error: BaseException) -> None:
        """The generation stopped on ``error``: record a failure, or release the session.

        A failure (an ``Exception``) is recorded as :meth:`fail` does; a cancellation (the
        consumer went away: ``GeneratorExit``, ``CancelledError``) only closes the session.
        """
        if isinstance(error, Exception):
            self.fail(error)
        else:
            self.close()

    def fail(self, error: BaseException) -> None:
        """The generation failed: record ``error`` and release the scoring session."""
        if self._done:
            return
        self.error = f"{type(error).__name__}: {error}"
        self._emit("error", {"source": "generation", "error": self.error})
        if self._audit is not None:
            self._audit.error(error, {"source": "generation"})
        self._close()

    def close(self) -> None:
        """Release the scoring session without an outcome score; idempotent."""
        self._close()

    def summary(self) -> dict[str, object]:
        """JSON-ready summary: final confidence, checkpoints, decisions, flags, review, signal."""
        return {
            "question": self.question,
            "model": self.context.model,
            "attempt": self.context.attempt,
            "mode": self.mode,
            "final_confidence": self.final_confidence,
            "checkpoints": [event.to_dict() for event in self.events],
            "decisions": [decision_summary(decision) for decision in self._decisions],
            "flags": [dict(flag) for flag in self._flags],
            "pending_review": None
            if self.pending_review is None
            else decision_summary(self.pending_review),
            "signal": None if self.signal is None else type(self.signal).__name__,
            "scoring": self._scoring,
            "skipped": [skip.to_dict() for skip in self._skips],
            "error": self.error,
            "tokens": self.token_count,
        }

    # ------------------------------------------------------------------ internals
    def _checked(self, step: Callable[[], object]) -> None:
        """Run one monitor step; judge the events that landed; turn failures into policy."""
        try:
            step()
        except GuardrailRuntimeError as exc:
            self._judge_landed()
            self._scorer_failed(exc, None)
            return
        self._judge_landed()

    def _judge_landed(self) -> None:
        events = self._monitor.events
        while self._judged < len(events) and not self._done:
            event = events[self._judged]
            self._judged += 1
            if self._audit is not None:
                self._audit.checkpoint(
                    event,
                    model=self.context.model,
                    attempt=self.context.attempt,
                    text=self.answer[event.char_start : event.char_end],  # reports rebuild it
                )
            self._emit("checkpoint", event.to_dict())
            self._judge(self.engine.decide(event, self.context, events[: event.index]), event)

    def _skip(self, skip: SkippedCheckpoint) -> None:
        self._skips.append(skip)
        payload = {"policy": "skip_process", **skip.to_dict()}
        self._emit("overload", payload)
        if self._audit is not None:
            self._audit.action("overload", payload)

    def _scorer_failed(self, exc: GuardrailRuntimeError, event: CheckpointEvent | None) -> None:
        detail: dict[str, Any] = {"source": "scorer"}
        if isinstance(exc, ScorerTimeoutError):
            detail.update(deadline_s=self.latency_budget_s, late_result="discarded")
        overload = isinstance(exc, ScorerOverloadedError)
        if overload:
            detail["overload"] = self.engine.policy.overload
        self._emit("error", {**detail, "error": f"{type(exc).__name__}: {exc}"})
        if self._audit is not None:
            self._audit.error(exc, detail)
        self._monitor.close()
        self._scoring = False
        failure_mode: FailureMode | None = None
        if overload:
            match self.engine.policy.overload:
                case "fail_open" | "fail_closed" as mode:
                    failure_mode = mode
                case _:
                    pass
        self._judge(self.engine.decide_error(exc, event, self.context, failure_mode), None)

    def _judge(self, decision: Decision, event: CheckpointEvent | None) -> None:
        self._decisions.append(decision)
        payload = decision.to_dict()
        if self._audit is not None:
            self._audit.decision(payload)
        self._emit("decision", payload)
        action = decision.action
        if action.type == "flag":
            flag = flag_payload(decision)
            self._flags.append(flag)
            self._emit("flag", flag)
        elif self.mode == "observe":
            pass
        elif action.type == "human_review" and action.mode == "provisional":
            if self.pending_review is None:
                self.pending_review = decision
        else:
            signal = signal_for(decision, self.events, self.answer)
            if signal is not None:
                self.signal = signal
                self._close()
                raise signal
        self._passed += 1
        cleared = self._tokens if event is None else event.token_index
        self._cleared = max(self._cleared, cleared)

    def _close(self) -> None:
        if not self._done:
            self._done = True
            self._monitor.close()

    def _emit(self, kind: str, payload: Mapping[str, Any]) -> None:
        if self._listener is not None:
            self._listener(kind, payload)
