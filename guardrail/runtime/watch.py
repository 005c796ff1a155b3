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
* A scorer failure (or an estimate slower than ``latency_budget_s``) becomes the policy's
  ``on_error`` decision: ``fail_open`` stops scoring and lets the answer continue,
  ``fail_closed`` aborts it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from guardrail.errors import GuardrailRuntimeError, GuardSignal, ScorerTimeoutError
from guardrail.events import CheckpointEvent
from guardrail.monitor import ConfidenceMonitor, FutureSampler
from guardrail.policy import Decision, PolicyEngine, RunContext
from guardrail.runtime.records import decision_summary, flag_payload
from guardrail.runtime.signals import signal_for
from guardrail.scorers.base import Scorer

if TYPE_CHECKING:
    from guardrail.audit.sink import AuditSink

__all__ = ["AnswerWatch", "WatchListener", "WatchMode"]

WatchMode = Literal["enforce", "observe"]
"""``enforce`` raises interrupting decisions; ``observe`` only records them."""

WatchListener = Callable[[str, Mapping[str, Any]], None]
"""Told ``(kind, payload)`` for each ``checkpoint``, ``decision``, ``flag`` and ``error``."""


class AnswerWatch:
    """Scores one answer to ``question`` and applies ``engine``'s policy at every checkpoint.

    ``audit`` is an optional :class:`guardrail.audit.AuditRun` (anything with ``checkpoint``,
    ``decision`` and ``error`` methods): every checkpoint, decision and scorer failure is
    recorded through it. ``listener`` hears the same events as plain dicts.
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
    ) -> None:
        policy = engine.policy
        self.engine = engine
        self.question = question
        self.context = context or RunContext()
        self.mode: WatchMode = mode
        self.latency_budget_s = latency_budget_s
        self._audit = audit
        self._listener = listener
        self._monitor = ConfidenceMonitor(
            scorer,
            question,
            settings=policy.checkpoints,
            bci=policy.bci,
            future_sampler=future_sampler,
        )
        self._decisions: list[Decision] = []
        self._flags: list[dict[str, Any]] = []
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
    def flags(self) -> tuple[dict[str, Any], ...]:
        """The flag actions taken so far."""
        return tuple(self._flags)

    @property
    def answer(self) -> str:
        """The answer text fed so far (also after scoring stopped)."""
        return "".join(self._text)

    @property
    def token_count(self) -> int:
        """Non-empty tokens fed so far."""
        return sum(1 for piece in self._text if piece)

    @property
    def checkpoints_passed(self) -> int:
        """Checkpoints whose decision let the answer go on."""
        return self._passed

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
        if self._scoring and token_text:
            self._checked(lambda: self._monitor.feed(token_text, logprobs))

    def finish(self) -> None:
        """Score the complete answer (outcome checkpoint) and close the session."""
        if self._done:
            return
        self.start()
        if self._scoring:
            self._checked(self._monitor.finish)
        self._close()

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

    def summary(self) -> dict[str, Any]:
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
            "error": self.error,
            "tokens": self.token_count,
        }

    # ------------------------------------------------------------------ internals
    def _checked(self, step: Callable[[], CheckpointEvent | None]) -> None:
        """Run one monitor step; judge the event it returns; turn scorer failures into policy."""
        try:
            event = step()
        except GuardrailRuntimeError as exc:
            self._scorer_failed(exc, None)
            return
        if event is None:
            return
        if self._audit is not None:
            self._audit.checkpoint(
                event,
                model=self.context.model,
                attempt=self.context.attempt,
                text=self.answer[event.char_start : event.char_end],  # reports rebuild the answer
            )
        self._emit("checkpoint", event.to_dict())
        budget = self.latency_budget_s
        if budget is not None and event.latency_s > budget:
            timeout = ScorerTimeoutError(
                f"checkpoint {event.index} took {event.latency_s:.3f}s, over the policy's "
                f"latency budget of {budget:g}s"
            )
            self._scorer_failed(timeout, event)
            return
        history = self.events[:-1]
        self._judge(self.engine.decide(event, self.context, history))

    def _scorer_failed(self, exc: GuardrailRuntimeError, event: CheckpointEvent | None) -> None:
        self._emit("error", {"source": "scorer", "error": f"{type(exc).__name__}: {exc}"})
        if self._audit is not None:
            self._audit.error(exc, {"source": "scorer"})
        self._monitor.close()
        self._scoring = False
        self._judge(self.engine.decide_error(exc, event, self.context))

    def _judge(self, decision: Decision) -> None:
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

    def _close(self) -> None:
        if not self._done:
            self._done = True
            self._monitor.close()

    def _emit(self, kind: str, payload: Mapping[str, Any]) -> None:
        if self._listener is not None:
            self._listener(kind, payload)
