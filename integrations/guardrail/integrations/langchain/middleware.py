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
outcome score and is never sent to review as an answer. When the policy has ``tool_call``
rules (``when: {stage: tool_call, tool: [send_email]}``), each call of the turn is judged
before it runs (:mod:`.tool_calls`): held for a person in LangChain's human-in-the-loop format
(``human_review``), refused with a message to the model (``abort``), generated again
(``retry``, ``escalate``, ``self_correct``) or let run and recorded.

**Streams.** Callers of ``agent.stream(stream_mode="messages")`` receive the model's tokens as
they are generated, also those of an attempt the guard then interrupts; the guard writes
``{"guardrail": {"marker": "restart", "discard_chunks": n, ...}}`` before the next attempt and
``{"marker": "final", ...}`` after the call to the ``custom`` stream mode, and the final message
carries the :class:`~guardrail.runtime.GuardedResult` in ``response_metadata["guardrail"]``.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal, Unpack

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
from langchain_core.runnables.config import ensure_config, patch_config
from langgraph.types import interrupt

from guardrail.audit.log import AuditLog
from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.policy import RunContext
from guardrail.runtime import (
    AttemptOutput,
    AttemptPlan,
    CallSpec,
    GuardConfig,
    GuardedCall,
    GuardedResult,
    GuardOptions,
    GuardSettings,
    MarkerKind,
    MemoryReviewSink,
    PolicyLike,
)
from guardrail.runtime.records import AttemptReport
from guardrail.runtime.signals import signal_for
from guardrail.scorers.base import Scorer

from ..langgraph.review import ReviewRequest, ReviewResponse, record_verdict, review_request
from ._async.calls import acall_once
from ._attempt import HandlerWatcher, with_handler
from ._pauses import (
    TOOL_CALLS_KEY,
    TOOLS_SETTLED,
    review_response,
    settle_tool_calls,
)
from ._sync.calls import call_once
from ._text import content_text, is_last_chunk, question_from_messages
from .handler import METADATA_KEY, GuardrailCallbackHandler
from .models import ModelRegistry, RunnableBuilder, model_name_of
from .tool_calls import JudgedCall, ToolCallVerdict, judge_tool_calls, judges_tool_calls, verdict

__all__ = ["FineCEMiddleware", "LowConfidenceError", "OnLowConfidence"]

OnLowConfidence = Literal["act", "raise"]
"""``act``: carry the policy's decision out inside the model call; ``raise``: raise
:class:`LowConfidenceError` for the built-in retry/fallback middleware."""

_RETRYABLE = frozenset({"retry", "self_correct"})
_REVIEWED = "reviewed"
_UNRESOLVED_KEPT = 256  # decisions raised to LangChain's middleware, kept for after_model


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
        decision = signal.decision
        self.action_type: str = "" if decision is None else decision.action.type
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
    """One guarded model call of the agent: its request, question and runtime call."""

    request: ModelRequest[Any]
    question: str
    guarded: GuardedCall[Any]
    builder: RunnableBuilder
    tool_verdicts: list[ToolCallVerdict] = field(default_factory=list)

    def write(self, marker: dict[str, Any]) -> None:
        """Write a marker to the agent's ``custom`` stream."""
        writer = getattr(self.request.runtime, "stream_writer", None)
        if writer is not None:
            writer(marker)


class _CustomStreamFrames:
    """The gate's markers as ``custom`` stream items: ``{"guardrail": {"marker": ...}}``."""

    def marker(
        self, kind: MarkerKind, payload: Mapping[str, Any], *, failed: bool = False
    ) -> dict[str, Any]:
        """The marker as a ``custom`` stream item."""
        return {METADATA_KEY: {"marker": kind, **payload}}

    def text(self, text: str) -> None:
        """No replacement chunk: the answer message carries the final answer."""


class FineCEMiddleware(AgentMiddleware[AgentState[Any], Any, Any]):
    """Scores each agent model call while it streams and acts on the policy (module docs).

    ``policy`` is a :class:`~guardrail.policy.Policy`, a preset name, a file, YAML text, a
    mapping or a :class:`~guardrail.runtime.GuardConfig`; ``scorer`` defaults to the policy's
    ``scorer.model``. ``models`` resolves escalation targets (else litellm names). ``review`` is a
    review queue that also receives the items reviewed through ``interrupt()``. ``audit`` an
    :class:`guardrail.audit.AuditLog` (one audit run per model call). ``options`` (a
    :class:`~guardrail.runtime.GuardOptions`), or its fields as keywords (``mode``,
    ``latency_budget_s``, ``max_attempts``, ``sleep``/``asleep``/``rng``...), are the call's
    settings, shared with every other entry point.
    """

    def __init__(
        self,
        policy: PolicyLike | GuardConfig = "default",
        scorer: Scorer | None = None,
        *,
        on_low_confidence: OnLowConfidence = "act",
        models: ModelRegistry | None = None,
        review: object | None = None,
        audit: AuditLog | None = None,
        rejected_answer: str = "The answer was withheld: a human reviewer rejected it.",
        options: GuardOptions | None = None,
        **settings: Unpack[GuardSettings],
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
                # reviews are decided through interrupt(), never waited on inside the call
                review=review if review is not None else MemoryReviewSink(),
                audit=audit,
                options=options,
                **settings,
            )
        self.options = GuardOptions.of(options or self.config.options, **settings)
        self.on_low_confidence: OnLowConfidence = on_low_confidence
        self.models = models
        self.queue = review
        self.rejected_answer = rejected_answer
        self.tools = []
        self.judges_tools = judges_tool_calls(self.config.policy)
        self._unresolved: OrderedDict[str, tuple[GuardedResult, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._sleep = self.options.sleep
        self._asleep = self.options.asleep
        self._rng = self.options.rng

    def __repr__(self) -> str:
        policy = self.config.policy.name
        mode = self.on_low_confidence
        return f"{type(self).__name__}(policy={policy!r}, on_low_confidence={mode!r})"

    # ------------------------------------------------------------- model calls
    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Run the model call under the guard; retry, escalate or self-correct inside it."""
        call = self._new_call(request)
        attempt = partial(self._attempt, call, handler)
        result = call.guarded.run(attempt, sleep=self._sleep, emit=call.write)
        return _deliver(result, call.question, call.tool_verdicts)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async :meth:`wrap_model_call`; scoring runs in LangChain's thread pool."""
        call = self._new_call(request)
        attempt = partial(self._attempt, call, handler)
        result = await call.guarded.arun(attempt, sleep=self._asleep, emit=call.write)
        return _deliver(result, call.question, call.tool_verdicts)

    # ----------------------------------------------------------------- review
    @hook_config(can_jump_to=["end"])
    def after_model(self, state: AgentState[Any], runtime: Any) -> dict[str, Any] | None:
        """Pause for a human when the last answer is pending review; apply the verdict."""
        message = _last_ai(state.get("messages") or ())
        record = None if message is None else message.response_metadata.get(METADATA_KEY)
        if message is not None and record is None and self._unresolved:
            return self._mark_unresolved(state, message)
        if message is None or not isinstance(record, Mapping):
            return None
        if record.get(TOOL_CALLS_KEY) and not record.get(TOOLS_SETTLED):
            return settle_tool_calls(message, record)
        if record.get("status") != "pending_review" or record.get(_REVIEWED):
            return None
        request = review_request(
            record, question=record.get("question"), answer=record.get("answer")
        )
        raw = interrupt(request.model_dump())
        # -- runs once the reviewer answered (LangGraph re-ran this node up to the interrupt) --
        response = review_response(raw)
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
        spec = CallSpec(
            question,
            model=name,
            source="langchain-agent",
            output_from_text=_response_from_text,
        )
        # the model streams its own tokens (``messages`` mode): the gate releases none, and a
        # review is asked for after the call, by after_model's interrupt()
        guarded: GuardedCall[Any] = GuardedCall(
            self.config,
            spec,
            frames=_CustomStreamFrames(),
            streaming=None,
            defer_review=True,
            rng=self._rng,
        )
        builder = RunnableBuilder(model, model_name=name, models=self.models)
        return _Call(request, question, guarded, builder)

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
            audit=call.guarded.audit,
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
        handler: Callable[[ModelRequest[Any]], Any],
        plan: AttemptPlan,
    ) -> _ModelCallAttempt:
        request, watcher, config = self._prepare(call, plan)
        return _ModelCallAttempt(self, call, plan, handler, request, watcher, config)

    def _judge_tools(
        self,
        call: _Call,
        plan: AttemptPlan,
        watcher: _TurnHandler,
        response: ModelResponse[Any] | None,
    ) -> list[JudgedCall]:
        """Judge the tool calls of a turn the guard did not interrupt (policy permitting)."""
        message = None if response is None else _last_ai(response.result)
        if not self.judges_tools or message is None or not message.tool_calls:
            return []
        return judge_tool_calls(
            engine=self.config.engine,
            scorer=self.config.scorer,
            question=call.question,
            text=content_text(message.content),
            calls=message.tool_calls,
            context=RunContext(attempt=plan.attempt, model=plan.model or call.builder.model_name),
            audit=call.guarded.audit,
            first_index=sum(len(watch.events) for watch in watcher.watches()) + 1,
        )

    def _output(
        self,
        call: _Call,
        plan: AttemptPlan,
        watcher: _TurnHandler,
        response: ModelResponse[Any] | None,
    ) -> AttemptOutput:
        """The attempt's output: the response, unless a judged tool call regenerates the turn."""
        judged = self._judge_tools(call, plan, watcher, response)
        message = None if response is None else _last_ai(response.result)
        text = None if message is None else content_text(message.content)
        reviewable = not watcher.called_tools()  # a tool-calling turn is not an answer
        call.tool_verdicts = [verdict(judgement) for judgement in judged]
        again = next((j for j in judged if _regenerates(j)), None)
        if again is not None and again.event is not None:
            # a retry, escalation or self-correction of the turn: the loop runs it again
            signal = signal_for(again.decision, (again.event,), text or "")
            return AttemptOutput(None, text=text, reviewable=reviewable, signal=signal)
        return AttemptOutput(response, text=text, reviewable=reviewable)

    def _reported(self, call: _Call, report: AttemptReport) -> None:
        """With ``on_low_confidence="raise"``, raise the decision for the built-ins."""
        signal = report.signal
        if self.on_low_confidence != "raise" or signal is None:
            return
        if signal.decision is None or signal.decision.action.type != "human_review":
            error = LowConfidenceError(signal)
            error.result = self._raised(call, signal)
            raise error

    def _raised(self, call: _Call, signal: GuardSignal) -> GuardedResult:
        """Record a decision handed to LangChain's middleware; remember it for after_model.

        The call's audit run ends as ``unresolved``: what happens next is the built-in
        middleware's. Should that middleware give up and answer with its own error text
        (``ModelRetryMiddleware(on_failure="continue")``), :meth:`after_model` attaches this
        record to that message, keyed by the last message the model was asked about.
        """
        result = call.guarded.hand_off(
            signal.decision.action.type if signal.decision is not None else "abort",
            "raised LowConfidenceError to LangChain's middleware",
            {"retryable": signal.decision is not None and _is_retryable(signal)},
        )
        key = _message_key(call.request.messages)
        if key is not None:
            with self._lock:
                self._unresolved[key] = (result, call.question)
                while len(self._unresolved) > _UNRESOLVED_KEPT:
                    self._unresolved.popitem(last=False)
        return result

    def _mark_unresolved(self, state: AgentState[Any], message: AIMessage) -> dict[str, Any] | None:
        """The error answer of a middleware that gave up, with the guard's record attached."""
        messages = state.get("messages") or ()
        if len(messages) < 2 or messages[-1] is not message:
            return None
        key = _message_key(messages[:-1])
        with self._lock:
            found = None if key is None else self._unresolved.pop(key, None)
        if found is None:
            return None
        result, question = found
        metadata = {
            **message.response_metadata,
            METADATA_KEY: {**result.to_dict(), "question": question},
        }
        return {"messages": [message.model_copy(update={"response_metadata": metadata})]}

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


class _ModelCallAttempt:
    """One attempt of an agent's model call: the agent's handler, run under the guard."""

    def __init__(
        self,
        middleware: FineCEMiddleware,
        call: _Call,
        plan: AttemptPlan,
        handler: Callable[[ModelRequest[Any]], Any],
        request: ModelRequest[Any],
        watcher: _TurnHandler,
        config: RunnableConfig,
    ) -> None:
        self.middleware = middleware
        self.call = call
        self.plan = plan
        self.handler = handler
        self.request = request
        self.turn = watcher
        self.watcher = HandlerWatcher(watcher)
        self.config = config

    def open(self) -> Iterator[ModelResponse[Any]]:
        """The model call (sync); its response is the attempt's one item."""
        return call_once(self.handler, self.request, self.config)

    def aopen(self) -> AsyncIterator[ModelResponse[Any]]:
        """The model call (async); its response is the attempt's one item."""
        return acall_once(self.handler, self.request, self.config)

    def output(self, chunks: Sequence[Any], interrupted: bool) -> AttemptOutput:
        """The response, its tool calls judged (in a worker thread on the async path)."""
        response = None if interrupted or not chunks else chunks[-1]
        return self.middleware._output(self.call, self.plan, self.turn, response)

    def reported(self, report: AttemptReport) -> None:
        """Raise the decision for LangChain's middleware (``on_low_confidence="raise"``)."""
        self.middleware._reported(self.call, report)


def _regenerates(judged: JudgedCall) -> bool:
    return judged.decision.action.type in ("retry", "escalate", "self_correct")


def _deliver(
    result: GuardedResult, question: str, tool_verdicts: Sequence[ToolCallVerdict] = ()
) -> ModelResponse[Any]:
    """The call's response, its answer message carrying the result (and the question)."""
    output = result.output
    if not isinstance(output, ModelResponse):
        output = _response_from_text(result.answer)
    message = _last_ai(output.result)
    if message is not None:
        record = {**result.to_dict(), "question": question}
        if tool_verdicts:
            record[TOOL_CALLS_KEY] = list(tool_verdicts)
        message.response_metadata[METADATA_KEY] = record
    return output


def _is_retryable(signal: GuardSignal) -> bool:
    decision = signal.decision
    return decision is not None and decision.action.type in _RETRYABLE


def _message_key(messages: Sequence[BaseMessage]) -> str | None:
    """The id of the last message a model call was asked about (``None`` without one)."""
    if not messages:
        return None
    last = messages[-1]
    return None if last.id is None else f"{type(last).__name__}:{last.id}"


def _response_from_text(text: str) -> ModelResponse[Any]:
    return ModelResponse(result=[AIMessage(content=text)])


def _last_ai(messages: Sequence[BaseMessage]) -> AIMessage | None:
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return message
    return None
