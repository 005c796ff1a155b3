"""guard(): the actuator. Wraps any runnable and carries out the policy's decisions.

>>> guarded = guard(llm, policy="default", scorer=scorer, review=queue)   # doctest: +SKIP
>>> result = guarded.invoke("What is 17 * 23?")                            # doctest: +SKIP
>>> result.output, result.status, result.final_confidence, result.actions  # doctest: +SKIP

Every call runs the wrapped runnable with a :class:`GuardrailCallbackHandler` appended to its
callbacks and consumes its stream inside each attempt (``invoke`` included), so a checkpoint
can cut the generation. The runtime's :class:`~guardrail.runtime.GuardedCall` runs the attempts
(the same for ``invoke`` and ``stream``, sync and async) and decides what follows: retry
(tenacity, with the policy's backoff and temperature), escalate (the policy's next model, from
``models`` or litellm, rebuilt by ``runnable_factory``), self-correct (re-ask with the feedback
template), human review (``review``: blocking or provisional) or abort (raise
:class:`~guardrail.runtime.GuardAborted`, or return the fallback answer).

``invoke``/``ainvoke``/``batch``/``abatch`` return a :class:`~guardrail.runtime.GuardedResult`
(or, with ``return_result=False``, the output itself; a message output then carries the
result in ``response_metadata["guardrail"]``). ``stream``/``astream`` yield the wrapped
runnable's chunks, pass-through or held back (:mod:`.streaming`), and end with a final marker
chunk whose ``response_metadata["guardrail"]`` is the result. Checkpoints, decisions, actions
and the result are also dispatched as custom callback events (``guardrail_checkpoint``,
``guardrail_decision``, ``guardrail_flag``, ``guardrail_error``, ``guardrail_action``,
``guardrail_result``) so ``astream_events`` and tracers see them.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from typing import Any, Unpack

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from guardrail.audit.log import AuditLog
from guardrail.runtime import (
    AttemptOutput,
    AttemptPlan,
    CallSpec,
    GuardConfig,
    GuardedCall,
    GuardedResult,
    GuardOptions,
    GuardSettings,
    PolicyLike,
    StreamingMode,
)
from guardrail.runtime.records import AttemptReport
from guardrail.scorers.base import Scorer

from ._async.calls import adispatch, arunnable_stream
from ._attempt import (
    CallState,
    EventBuffer,
    HandlerWatcher,
    Reask,
    accumulate,
    attempt_config,
    default_reask,
)
from ._sync.calls import dispatch, runnable_stream
from ._text import question_from_input
from .handler import METADATA_KEY, GuardrailCallbackHandler
from .models import ModelRegistry, RunnableBuilder, model_name_of
from .streaming import MarkerFactory, MessageFrames, OutputShape

__all__ = ["DEDUPE_KEY", "GuardedRunnable", "guard"]

DEDUPE_KEY = "guardrail_dedupe_key"
"""Run metadata key: a stable identity of the call, so a repeated call (same key) reuses its
review item instead of enqueueing another (the LangGraph node sets it to thread and task)."""


class GuardedRunnable(Runnable[Any, Any]):
    """A runnable whose every call is watched and acted upon by a guardrail policy.

    Build it with :func:`guard`; the constructor takes the same settings with the policy,
    scorer, review sink and audit log bundled in a :class:`~guardrail.runtime.GuardConfig`
    and the call's settings in a :class:`~guardrail.runtime.GuardOptions` (default: the
    config's).
    """

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        config: GuardConfig,
        *,
        models: ModelRegistry | None = None,
        runnable_factory: Callable[[BaseChatModel], Runnable[Any, Any]] | None = None,
        model_name: str | None = None,
        return_result: bool = True,
        question_from: Callable[[Any], str | None] | None = None,
        reask: Reask | None = None,
        marker_factory: MarkerFactory | None = None,
        options: GuardOptions | None = None,
    ) -> None:
        self.runnable = runnable
        self.guard_config = config
        self.options = options if options is not None else config.options
        self.name = f"Guarded{runnable.get_name()}"
        self.model_name = model_name if model_name is not None else model_name_of(runnable)
        self.builder = RunnableBuilder(
            runnable, model_name=self.model_name, models=models, runnable_factory=runnable_factory
        )
        self.streaming: StreamingMode = self.options.streaming
        self.hold_back_tokens = self.options.hold_back_tokens
        self.return_result = return_result
        self.question_from = question_from or question_from_input
        self.reask = reask or default_reask
        self.marker_factory = marker_factory
        self._sleep = self.options.sleep
        self._asleep = self.options.asleep
        self._rng = self.options.rng

    def __repr__(self) -> str:
        return f"guard({self.runnable!r}, policy={self.guard_config.policy.name!r})"

    @property
    def InputType(self) -> type[object]:
        """The wrapped runnable's input type."""
        return self.runnable.InputType

    @property
    def OutputType(self) -> type[object]:
        """:class:`GuardedResult`, or the wrapped runnable's output type."""
        return GuardedResult if self.return_result else self.runnable.OutputType

    # ----------------------------------------------------------------- entry points
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run the guarded call; return its :class:`GuardedResult` (or output)."""
        return self._call_with_config(self._invoke, input, ensure_config(config), **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async :meth:`invoke`; scoring runs in LangChain's thread pool."""
        return await self._acall_with_config(self._ainvoke, input, ensure_config(config), **kwargs)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Stream the guarded answer (pass-through or hold-back), ending with a final marker."""
        yield from self._transform_stream_with_config(
            iter([input]), self._stream, ensure_config(config), **kwargs
        )

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""

        async def single() -> AsyncIterator[Any]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            single(), self._astream, ensure_config(config), **kwargs
        ):
            yield chunk

    # ------------------------------------------------------------------- calls
    def _new_call(
        self,
        value: Any,
        config: RunnableConfig,
        run_id: Any,
        kwargs: dict[str, Any],
        *,
        streamed: bool = False,
    ) -> tuple[CallState, GuardedCall[Any]]:
        settings = self.guard_config
        events = EventBuffer()
        question = self.question_from(value) or ""
        dedupe = (config.get("metadata") or {}).get(DEDUPE_KEY)
        if isinstance(dedupe, str):  # one key per question: a node may guard several calls
            dedupe = f"{dedupe}:{hashlib.sha256(question.encode()).hexdigest()[:16]}"
        chat = isinstance(self.runnable, BaseChatModel)
        shape = OutputShape(message=chat, sample=AIMessageChunk if chat else None)
        spec = CallSpec(
            question,
            model=self.model_name,
            source="langchain",
            run_id=str(run_id),
            dedupe_key=dedupe if isinstance(dedupe, str) else None,
            output_from_text=shape.from_text,
            listener=events.push,
        )
        call: GuardedCall[Any] = GuardedCall(
            settings,
            spec,
            frames=MessageFrames(shape, self.marker_factory) if streamed else None,
            streaming=self.streaming,
            hold_back_tokens=self.hold_back_tokens,
            rng=self._rng,
        )
        state = CallState(value, question, config, events, shape, call.audit, kwargs)
        return state, call

    def _attempt(
        self,
        state: CallState,
        manager: CallbackManagerForChainRun | AsyncCallbackManagerForChainRun,
        plan: AttemptPlan,
    ) -> _RunnableAttempt:
        handler = GuardrailCallbackHandler(
            self.guard_config, stream_invoke=True, audit=state.audit, listener=state.events.push
        )
        runnable = self.builder.for_plan(plan)
        value = state.input if plan.feedback is None else self.reask(state.input, plan.feedback)
        config = attempt_config(state, plan, handler)
        return _RunnableAttempt(state, manager, runnable, value, config, handler)

    def _deliver(self, result: GuardedResult) -> Any:
        output = result.output
        if isinstance(output, BaseMessage):
            output.response_metadata[METADATA_KEY] = result.to_dict()
        return result if self.return_result else output

    # ------------------------------------------------------------ invoke, stream
    def _invoke(
        self,
        value: Any,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        state, call = self._new_call(value, config, run_manager.run_id, kwargs)
        settled = partial(dispatch, state.events, run_manager)
        try:
            result = call.run(
                partial(self._attempt, state, run_manager), sleep=self._sleep, settled=settled
            )
        finally:
            settled()
        return self._deliver(result)

    async def _ainvoke(
        self,
        value: Any,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        state, call = self._new_call(value, config, run_manager.run_id, kwargs)
        settled = partial(adispatch, state.events, run_manager)
        try:
            result = await call.arun(
                partial(self._attempt, state, run_manager), sleep=self._asleep, settled=settled
            )
        finally:
            await settled()
        return self._deliver(result)

    def _stream(
        self,
        inputs: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Iterator[Any]:
        value = _single(inputs)
        state, call = self._new_call(value, config, run_manager.run_id, kwargs, streamed=True)
        attempt = partial(self._attempt, state, run_manager)
        settled = partial(dispatch, state.events, run_manager)
        yield from call.stream(attempt, sleep=self._sleep, settled=settled)

    async def _astream(
        self,
        inputs: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        value = _single(iter([item async for item in inputs]))
        state, call = self._new_call(value, config, run_manager.run_id, kwargs, streamed=True)
        attempt = partial(self._attempt, state, run_manager)
        settled = partial(adispatch, state.events, run_manager)
        async for chunk in call.astream(attempt, sleep=self._asleep, settled=settled):
            yield chunk


class _RunnableAttempt:
    """One attempt of a guarded runnable: its stream, watched by a callback handler."""

    def __init__(
        self,
        state: CallState,
        manager: CallbackManagerForChainRun | AsyncCallbackManagerForChainRun,
        runnable: Runnable[Any, Any],
        value: Any,
        config: RunnableConfig,
        handler: GuardrailCallbackHandler,
    ) -> None:
        self.state = state
        self.manager = manager
        self.runnable = runnable
        self.value = value
        self.config = config
        self.watcher = HandlerWatcher(handler)

    def open(self) -> Iterator[Any]:
        """The runnable's sync stream; the guard's events are dispatched after each chunk."""
        assert isinstance(self.manager, CallbackManagerForChainRun)
        state = self.state
        return runnable_stream(
            self.runnable, self.value, self.config, state.kwargs, state.events, self.manager
        )

    def aopen(self) -> AsyncIterator[Any]:
        """The runnable's async stream; the guard's events are dispatched after each chunk."""
        assert isinstance(self.manager, AsyncCallbackManagerForChainRun)
        state = self.state
        return arunnable_stream(
            self.runnable, self.value, self.config, state.kwargs, state.events, self.manager
        )

    def output(self, chunks: Sequence[Any], interrupted: bool) -> AttemptOutput:
        """The merged stream as the attempt's output."""
        return self.state.output(chunks)

    def reported(self, report: AttemptReport) -> None:
        """Nothing to hand to LangChain."""


# ------------------------------------------------------------------------- helpers
def _single(inputs: Iterator[Any]) -> Any:
    """The input of a streamed call (several input chunks are merged, as LangChain does)."""
    total: Any = None
    for item in inputs:
        total = accumulate(total, item)
    return total


def guard(
    runnable: Runnable[Any, Any],
    policy: PolicyLike | GuardConfig = "default",
    scorer: Scorer | None = None,
    *,
    review: object | None = None,
    audit: AuditLog | None = None,
    models: ModelRegistry | None = None,
    runnable_factory: Callable[[BaseChatModel], Runnable[Any, Any]] | None = None,
    model_name: str | None = None,
    return_result: bool = True,
    question_from: Callable[[Any], str | None] | None = None,
    reask: Reask | None = None,
    marker_factory: MarkerFactory | None = None,
    options: GuardOptions | None = None,
    **settings: Unpack[GuardSettings],
) -> GuardedRunnable:
    """Wrap ``runnable`` so that every call is scored and the ``policy`` is carried out.

    ``policy`` is a :class:`~guardrail.policy.Policy`, a preset name, a file, YAML text, a
    mapping or a :class:`~guardrail.runtime.GuardConfig`. ``scorer`` defaults to the policy's
    ``scorer.model``. ``review`` is a review sink or :class:`guardrail.review.ReviewQueue`
    (default: the project's queue at its default path, when the policy can ask for review);
    ``audit`` a :class:`guardrail.audit.AuditLog`. ``models`` resolves escalation targets and
    ``runnable_factory`` rebuilds a non-model runnable around one; ``model_name`` is the
    wrapped model's name as the policy's targets spell it (default: the chat model's own name).
    ``marker_factory``: see :mod:`.streaming`. ``question_from`` extracts the question from an
    input; ``reask`` builds a self-correction input. ``options`` (a
    :class:`~guardrail.runtime.GuardOptions`), or its fields as keywords (``mode``,
    ``streaming``, ``hold_back_tokens``, ``latency_budget_s``, ``max_attempts``,
    ``review_timeout_s``, ``sleep``/``asleep``/``rng``: :class:`~guardrail.runtime.GuardSettings`),
    are the call's settings, shared with every other entry point.
    """
    if isinstance(policy, GuardConfig):
        config = policy
    else:
        config = GuardConfig(
            policy, scorer, review=review, audit=audit, options=options, **settings
        )
    return GuardedRunnable(
        runnable,
        config,
        models=models,
        runnable_factory=runnable_factory,
        model_name=model_name,
        return_result=return_result,
        question_from=question_from,
        reask=reask,
        marker_factory=marker_factory,
        options=GuardOptions.of(options or config.options, **settings),
    )
