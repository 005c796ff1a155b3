"""FineCEMiddleware: the guard as LangChain 1.x agent middleware (``create_agent``).

>>> agent = create_agent(model, tools, middleware=[FineCEMiddleware("default")],
...                      checkpointer=InMemorySaver())                      # doctest: +SKIP

**One model call at a time.** ``wrap_model_call`` / ``awrap_model_call`` run the agent's model
call with a :class:`~guardrail.integrations.langchain.GuardrailCallbackHandler` in its callbacks
(streaming it token by token, so a checkpoint the policy rejects cuts the generation there) and
carry the decision out *inside that call*, so the agent goes on with the guarded answer:

* ``on_low_confidence="act"`` (default): the runtime (:mod:`guardrail.runtime`) does what the
  policy says: retry (the policy's backoff, at its temperature, through ``model_settings``),
  escalate (the policy's next target, from ``models`` or litellm), self-correct (the call re-run
  with the feedback as a last human message), abort (the policy's fallback answer, or
  :class:`~guardrail.runtime.GuardAborted` out of the agent).
* ``on_low_confidence="raise"``: the middleware only judges. An interrupting decision raises
  :class:`LowConfidenceError`, a ``langchain_core`` ``ModelError`` whose ``is_retryable`` is true
  for ``retry`` and ``self_correct`` decisions, so that the built-in middleware listed *before*
  this one acts: ``ModelRetryMiddleware`` calls the model again, ``ModelFallbackMiddleware``
  switches to its next model. Each call is then judged as an attempt of its own.

**Human review** of answer text goes through ``after_model``: when the policy asks for review
(``human_review``, blocking or provisional), the model call returns the answer (or the text up to
the checkpoint that fired) marked ``pending_review``, and ``after_model`` pauses the agent with
``interrupt()`` (a checkpointer is needed), sending a
:class:`~guardrail.integrations.langgraph.ReviewRequest`. Resume with
``Command(resume={"verdict": "approve" | "edit" | "reject", "edited_answer": ...})``: an edit
replaces the answer, a reject replaces it with ``rejected_answer`` and ends the run. With
``review=`` (a review queue) the item is also enqueued, and the verdict recorded on it. The
built-in ``HumanInTheLoopMiddleware`` gates tool calls only; the two compose.

**Agent turns.** The question the scorer sees is the last human message. A turn whose message
calls tools is not a final answer: its text is scored at process checkpoints, but it gets no
outcome score and is never sent to review.

**Streams.** Callers of ``agent.stream(stream_mode="messages")`` receive the model's tokens as
they are generated, also those of an attempt the guard then interrupts; the guard writes
``{"guardrail": {"marker": "restart", "discard_chunks": n, ...}}`` before the next attempt and
``{"marker": "final", ...}`` after the call to the ``custom`` stream mode, and the final message
carries the :class:`~guardrail.runtime.GuardedResult` in ``response_metadata["guardrail"]``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

from guardrail._optional import require

try:  # langchain >= 1.5 itself, not only langchain-core
    from langchain.agents.middleware.types import (
        AgentMiddleware,
        AgentState,
        ModelRequest,
        ModelResponse,
        hook_config,
    )
except ImportError:
    require("langchain", "langchain")  # raises MissingExtraError naming the extra
    raise
from langchain_core.exceptions import ModelError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config, patch_config, var_child_runnable_config
from langgraph.types import interrupt
from pydantic import ValidationError

from guardrail.audit.log import AuditLog
from guardrail.audit.sink import AuditSink
from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.runtime import (
    USE_POLICY,
    Again,
    AttemptPlan,
    AttemptReport,
    Fail,
    Finish,
    GuardConfig,
    GuardedResult,
    GuardLoop,
    MemoryReviewSink,
    PolicyLike,
    Review,
    Step,
    WatchMode,
    aretrying,
    conclude,
    resolve_review,
    retrying,
)
from guardrail.scorers.base import Scorer

from ..langgraph.review import ReviewRequest, ReviewResponse, record_verdict
from ._attempt import with_handler
from ._text import content_text, is_last_chunk, question_from_messages
from .handler import METADATA_KEY, GuardrailCallbackHandler
from .models import ModelRegistry, RunnableBuilder, model_name_of

__all__ = ["FineCEMiddleware", "LowConfidenceError", "OnLowConfidence"]

OnLowConfidence = Literal["act", "raise"]
"""``act``: carry the policy's decision out inside the model call; ``raise``: raise
:class:`LowConfidenceError` for the built-in retry/fallback middleware."""

_RETRYABLE = frozenset({"retry", "self_correct"})
_REVIEWED = "reviewed"


class LowConfidenceError(GuardSignal, ModelError):
    """The guard judged a model call unlikely to be right (``on_low_confidence="raise"``).

    A guard signal (``decision``, ``events``, ``partial_answer``) and a LangChain ``ModelError``:
    ``is_retryable`` is true when the policy decided ``retry`` or ``self_correct`` (the same
    model may do better), so ``ModelRetryMiddleware``'s default ``retry_on`` retries those and
    lets ``escalate`` and ``abort`` through to a ``ModelFallbackMiddleware`` listed before it.
    """

    def __init__(self, signal: GuardSignal) -> None:
        super().__init__(
            str(signal),
            decision=signal.decision,
            events=signal.events,
            partial_answer=signal.partial_answer,
        )
        action = getattr(signal.decision, "action", None)
        self.action_type: str = str(getattr(action, "type", ""))
        self.signal = signal

    @property
    def is_retryable(self) -> bool:  # type: ignore[override]
        """True for ``retry`` and ``self_correct`` decisions."""
        return self.action_type in _RETRYABLE


class _TurnHandler(GuardrailCallbackHandler):
    """The handler for agent turns: a turn that calls tools gets no outcome score."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tool_turns: set[uuid.UUID] = set()

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Mark a run whose chunks call tools; close it unscored at its last chunk."""
        message = getattr(chunk, "message", None)
        if getattr(message, "tool_call_chunks", None):
            self._tool_turns.add(run_id)
        if run_id in self._tool_turns and is_last_chunk(chunk):
            self._close_unscored(run_id)
        super().on_llm_new_token(
            token, chunk=chunk, run_id=run_id, parent_run_id=parent_run_id, **kwargs
        )

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Close a tool-calling run unscored before the handler would score its outcome."""
        for generations in response.generations[:1]:
            for generation in generations[:1]:
                if getattr(getattr(generation, "message", None), "tool_calls", None):
                    self._tool_turns.add(run_id)
        if run_id in self._tool_turns:
            self._close_unscored(run_id)
        super().on_llm_end(response, run_id=run_id, parent_run_id=parent_run_id, **kwargs)

    def _close_unscored(self, run_id: uuid.UUID) -> None:
        for record in self.active_runs:
            if record.run_id == run_id:
                record.watch.close()

    def called_tools(self) -> bool:
        """True when a run of this attempt called tools."""
        return bool(self._tool_turns)


@dataclass(slots=True)
class _Call:
    """One guarded model call of the agent: its request, question, action loop and audit run."""

    request: ModelRequest[Any]
    question: str
    loop: GuardLoop
    audit: AuditSink | None
    builder: RunnableBuilder


class FineCEMiddleware(AgentMiddleware[AgentState[Any], Any, Any]):
    """Scores each agent model call while it streams and acts on the policy (module docs).

    ``policy`` is a :class:`~guardrail.policy.Policy`, a preset name, a file, YAML text, a
    mapping or a :class:`~guardrail.runtime.GuardConfig`; ``scorer`` defaults to the policy's
    ``scorer.model``. ``models`` resolves escalation targets (else litellm names). ``review`` is a
    review queue that also receives the items reviewed through ``interrupt()``. ``audit`` an
    :class:`guardrail.audit.AuditLog` (one audit run per model call). ``sleep``/``asleep``/
    ``rng`` drive the retry backoff (tests make them instant).
    """

    def __init__(
        self,
        policy: PolicyLike | GuardConfig = "default",
        scorer: Scorer | None = None,
        *,
        on_low_confidence: OnLowConfidence = "act",
        mode: WatchMode = "enforce",
        models: ModelRegistry | None = None,
        review: object | None = None,
        audit: AuditLog | None = None,
        rejected_answer: str = "The answer was withheld: a human reviewer rejected it.",
        latency_budget_s: float | str | None = USE_POLICY,
        max_attempts: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        if on_low_confidence not in ("act", "raise"):
            raise GuardrailConfigError(
                f"on_low_confidence must be 'act' or 'raise', got {on_low_confidence!r}"
            )
        if isinstance(policy, GuardConfig):
            self.config = policy
        else:
            self.config = GuardConfig(
                policy,
                scorer,
                mode=mode,
                # reviews are decided through interrupt(), never waited on inside the call
                review=review if review is not None else MemoryReviewSink(),
                audit=audit,
                latency_budget_s=latency_budget_s,
                max_attempts=max_attempts,
            )
        self.on_low_confidence: OnLowConfidence = on_low_confidence
        self.models = models
        self.queue = review
        self.rejected_answer = rejected_answer
        self.tools = []
        self._sleep = sleep
        self._asleep = asleep
        self._rng = rng

    def __repr__(self) -> str:
        policy = self.config.policy.name
        return f"{type(self).__name__}(policy={policy!r}, on_low_confidence={self.on_low_confidence!r})"

    # ------------------------------------------------------------- model calls
    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Run the model call under the guard; retry, escalate or self-correct inside it."""
        call = self._new_call(request)
        if self.on_low_confidence == "raise":
            return self._judged(call, self._attempt(call, call.loop.plan, handler))
        try:
            for retry in retrying(self._sleep):
                with retry:
                    report = self._attempt(call, call.loop.plan, handler)
                    return self._concluded(call, report)
        except BaseException as exc:
            call.loop.abandon(exc)
            raise
        raise AssertionError("unreachable: tenacity stops only by returning or raising")

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async :meth:`wrap_model_call`; scoring runs in LangChain's thread pool."""
        call = self._new_call(request)
        if self.on_low_confidence == "raise":
            return self._judged(call, await self._aattempt(call, call.loop.plan, handler))
        try:
            async for retry in aretrying(self._asleep):
                with retry:
                    report = await self._aattempt(call, call.loop.plan, handler)
                    return self._concluded(call, report)
        except BaseException as exc:
            call.loop.abandon(exc)
            raise
        raise AssertionError("unreachable: tenacity stops only by returning or raising")

    # ----------------------------------------------------------------- review
    @hook_config(can_jump_to=["end"])
    def after_model(self, state: AgentState[Any], runtime: Any) -> dict[str, Any] | None:
        """Pause for a human when the last answer is pending review; apply the verdict."""
        message = _last_ai(state.get("messages") or ())
        record = None if message is None else message.response_metadata.get(METADATA_KEY)
        if message is None or not isinstance(record, Mapping):
            return None
        if record.get("status") != "pending_review" or record.get(_REVIEWED):
            return None
        request = _review_request(record)
        raw = interrupt(request.model_dump())
        # -- runs once the reviewer answered (LangGraph re-ran this node up to the interrupt) --
        response = _review_response(raw)
        if self.queue is not None and request.review_id is not None:
            record_verdict(self.queue, request.review_id, response)
        return self._apply_verdict(message, record, request, response)

    @hook_config(can_jump_to=["end"])
    async def aafter_model(self, state: AgentState[Any], runtime: Any) -> dict[str, Any] | None:
        """Async :meth:`after_model` (``interrupt()`` needs the node's own context)."""
        return self.after_model(state, runtime)

    # -------------------------------------------------------------- internals
    def _new_call(self, request: ModelRequest[Any]) -> _Call:
        question = question_from_messages(request.messages)
        model = request.model
        name = model_name_of(model)
        run_id = uuid.uuid4().hex
        audit = self.config.audit_run(run_id)
        loop = self.config.loop(
            question,
            model=name,
            output_from_text=_response_from_text,
            run_id=run_id,
            audit=audit,
            metadata={"source": "langchain-agent"},
            rng=self._rng,
        )
        builder = RunnableBuilder(model, model_name=name, models=self.models)
        return _Call(request, question, loop, audit, builder)

    def _prepare(
        self, call: _Call, plan: AttemptPlan
    ) -> tuple[ModelRequest[Any], _TurnHandler, RunnableConfig]:
        request = call.request
        model = call.builder.for_plan(replace(plan, temperature=None))
        if not isinstance(model, BaseChatModel):
            raise GuardrailConfigError(f"escalation target {plan.model!r} is not a chat model")
        overrides: dict[str, Any] = {"model": model}
        if plan.temperature is not None:
            overrides["model_settings"] = {
                **request.model_settings,
                "temperature": plan.temperature,
            }
        if plan.feedback is not None:
            overrides["messages"] = [*request.messages, HumanMessage(plan.feedback)]
        watcher = _TurnHandler(
            self.config,
            stream_invoke=True,
            audit=call.audit,
            attempt=plan.attempt,
            model=plan.model or model_name_of(model),
        )
        parent = ensure_config()
        config = patch_config(parent, callbacks=with_handler(parent.get("callbacks"), watcher))
        config["metadata"] = {
            **(parent.get("metadata") or {}),
            "guardrail_attempt_kind": plan.kind,
            "guardrail_question": call.question,
        }
        return request.override(**overrides), watcher, config

    def _attempt(
        self,
        call: _Call,
        plan: AttemptPlan,
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> AttemptReport:
        request, watcher, config = self._prepare(call, plan)
        started = time.monotonic()
        response: ModelResponse[Any] | None = None
        signal: GuardSignal | None = None
        with _child_config(config):
            try:
                response = handler(request)
            except GuardSignal as exc:
                if not watcher.raised(exc):
                    raise
                signal = exc
        return _report(call, watcher, response, signal, started)

    async def _aattempt(
        self,
        call: _Call,
        plan: AttemptPlan,
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> AttemptReport:
        request, watcher, config = self._prepare(call, plan)
        started = time.monotonic()
        response: ModelResponse[Any] | None = None
        signal: GuardSignal | None = None
        with _child_config(config):
            try:
                response = await handler(request)
            except GuardSignal as exc:
                if not watcher.raised(exc):
                    raise
                signal = exc
        return _report(call, watcher, response, signal, started)

    def _concluded(self, call: _Call, report: AttemptReport) -> ModelResponse[Any]:
        """Settle one attempt: the response to return, or NextAttempt / the signal raised."""
        step = _defer_review(call.loop, call.loop.settle(report))
        self._tell(call, step, report)
        result = conclude(step)
        return _deliver(result, call.question)

    def _judged(self, call: _Call, report: AttemptReport) -> ModelResponse[Any]:
        """``on_low_confidence="raise"``: raise for an interrupting decision, else deliver."""
        signal = report.signal
        if signal is not None:
            decision = getattr(signal, "decision", None)
            action = getattr(decision, "action", None)
            if getattr(action, "type", None) != "human_review":
                call.loop.abandon(signal)
                raise LowConfidenceError(signal)
        return self._concluded(call, report)

    def _tell(self, call: _Call, step: Step, report: AttemptReport) -> None:
        """Write restart and final markers to the agent's ``custom`` stream."""
        writer = getattr(call.request.runtime, "stream_writer", None)
        if writer is None:
            return
        shown = report.signal is not None and bool(report.answer)
        if shown and isinstance(step, Again):
            restart: dict[str, Any] = {"next_attempt": step.plan.attempt, "action": step.plan.kind}
            writer({METADATA_KEY: {"marker": "restart", **restart, "partial": report.answer}})
        elif shown and isinstance(step, Finish) and step.result.status == "fallback":
            restart = {"status": "fallback", "action": "abort"}
            writer({METADATA_KEY: {"marker": "restart", **restart, "partial": report.answer}})
        if isinstance(step, Finish):
            writer({METADATA_KEY: {"marker": "final", **step.result.to_dict()}})
        elif isinstance(step, Fail) and isinstance(step.signal.result, GuardedResult):
            writer({METADATA_KEY: {"marker": "final", **step.signal.result.to_dict()}})

    def _apply_verdict(
        self,
        message: AIMessage,
        record: Mapping[str, Any],
        request: ReviewRequest,
        response: ReviewResponse,
    ) -> dict[str, Any]:
        status = {"approve": "approved", "edit": "edited", "reject": "rejected"}[response.verdict]
        if response.verdict == "edit":
            content: Any = response.edited_answer
        elif response.verdict == "reject":
            content = self.rejected_answer
        else:
            content = message.content
        verdict = {**response.model_dump(), "review_id": request.review_id}
        metadata = {
            **message.response_metadata,
            METADATA_KEY: {**record, "status": status, _REVIEWED: verdict},
        }
        updated = message.model_copy(update={"content": content, "response_metadata": metadata})
        update: dict[str, Any] = {"messages": [updated]}
        if response.verdict == "reject":
            update["jump_to"] = "end"
        return update


@contextmanager
def _child_config(config: RunnableConfig) -> Iterator[None]:
    """Make ``config`` the one the agent's model call inherits (its callbacks and metadata)."""
    token = var_child_runnable_config.set(config)
    try:
        yield
    finally:
        var_child_runnable_config.reset(token)


def _report(
    call: _Call,
    watcher: _TurnHandler,
    response: ModelResponse[Any] | None,
    signal: GuardSignal | None,
    started: float,
) -> AttemptReport:
    """What one attempt did, from the handler's runs and the model's response."""
    runs = watcher.all_runs()
    main = next((run for run in reversed(runs) if run.watch.answer), runs[-1] if runs else None)
    pending = next(
        (run.watch.pending_review for run in runs if run.watch.pending_review is not None), None
    )
    if watcher.called_tools():
        pending = None  # a tool-calling turn is not an answer to review
    if signal is not None:
        answer, events = signal.partial_answer, tuple(signal.events)
    else:
        message = None if response is None else _last_ai(response.result)
        text = None if message is None else content_text(message.content)
        answer = text if text is not None else ("" if main is None else main.watch.answer)
        events = () if main is None else main.watch.events
    return AttemptReport(
        answer=answer,
        output=None if signal is not None else response,
        events=events,
        decisions=tuple(d for run in runs for d in run.watch.decisions),
        flags=tuple(f for run in runs for f in run.watch.flags),
        signal=signal,
        pending_review=pending,
        duration_s=time.monotonic() - started,
    )


def _defer_review(loop: GuardLoop, step: Step) -> Step:
    """A review step becomes *pending*: ``after_model`` asks the human with ``interrupt()``."""
    if isinstance(step, Review):
        step = replace(step, blocking=False)
    return resolve_review(loop, step)


def _deliver(result: GuardedResult, question: str) -> ModelResponse[Any]:
    """The call's response, its answer message carrying the result (and the question)."""
    output = result.output
    if not isinstance(output, ModelResponse):
        output = _response_from_text(result.answer)
    message = _last_ai(output.result)
    if message is not None:
        message.response_metadata[METADATA_KEY] = {**result.to_dict(), "question": question}
    return output


def _response_from_text(text: str) -> ModelResponse[Any]:
    return ModelResponse(result=[AIMessage(content=text)])


def _last_ai(messages: Sequence[BaseMessage]) -> AIMessage | None:
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return message
    return None


def _review_response(raw: object) -> ReviewResponse:
    """The reviewer's resume value as a :class:`ReviewResponse`, or a clear error."""
    if isinstance(raw, ReviewResponse):
        return raw
    try:
        return ReviewResponse.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        raise GuardrailConfigError(
            f"the value resumed into a guardrail review is not a verdict ({problems}); resume "
            'with Command(resume={"verdict": "approve" | "edit" | "reject", '
            '"edited_answer": ...})'
        ) from None


def _review_request(record: Mapping[str, Any]) -> ReviewRequest:
    attempts = record.get("attempts") or []
    last = attempts[-1] if attempts else {}
    decisions = last.get("decisions") or []
    low: Mapping[str, Any] = next(
        (d for d in reversed(decisions) if d["action"]["type"] != "continue"), {}
    )
    return ReviewRequest(
        question=str(record.get("question") or ""),
        answer=str(record.get("answer") or ""),
        confidence=record.get("final_confidence"),
        status=str(record.get("status")),
        partial=bool(last.get("partial", False)),
        review_id=record.get("review_id"),
        rule=low.get("rule"),
        reasons=list(low.get("reasons") or []),
        attempts=len(attempts),
    )
