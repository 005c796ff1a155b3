"""guarded_completion(): litellm's completion, watched and acted upon by a guardrail policy.

>>> result = guarded_completion(model="gpt-4o-mini", messages=messages, policy="default")
...                                                                   # doctest: +SKIP
>>> result.output.choices[0].message.content, result.status, result.actions  # doctest: +SKIP

The litellm twin of :func:`guardrail.integrations.langchain.guard`: each attempt streams the
model (also for a non-streamed call) and feeds every chunk, with its logprobs, to an
:class:`~guardrail.runtime.AnswerWatch`, so a checkpoint can cut the generation; the runtime
(:mod:`guardrail.runtime`) decides what follows: retry (the policy's backoff and temperature),
escalate (the policy's next target, a litellm model name), self-correct (the messages re-asked
with the feedback template), human review, abort. Fallbacks and logprobs: see :mod:`._request`.

Non-streamed, the call returns a :class:`~guardrail.runtime.GuardedResult` whose ``output`` is
a ``ModelResponse`` (with ``return_result=False``, that response itself); the response carries
its merged logprobs and, in ``_hidden_params["guardrail"]``, the result as a dict.

Streamed (``stream=True``), the model's chunks are passed through as they arrive; the chunk
that closes an interrupting checkpoint is not. Frames (``ModelResponseStream`` with an empty
delta and a ``guardrail`` field) tell the caller what happened: ``{"marker": "restart",
"discard_chunks": n, ...}`` before another attempt or a replacement answer (fallback, edited)
when ``n`` chunks of the interrupted one were shown, and ``{"marker": "final", ...}`` (the
result as a dict) last. A call that fails (abort without fallback answer, rejected review)
ends with its final frame, ``finish_reason="content_filter"``, then raises the signal
(:class:`~guardrail.runtime.GuardAborted`).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing, closing
from typing import Any

import litellm
from litellm.types.utils import ModelResponse, ModelResponseStream

from guardrail.errors import GuardSignal
from guardrail.policy import RunContext
from guardrail.runtime import (
    Again,
    AnswerWatch,
    AttemptPlan,
    AttemptReport,
    Fail,
    Finish,
    GuardConfig,
    GuardedResult,
    GuardLoop,
    PolicyLike,
    Step,
    aresolve_review,
    aretrying,
    arun_attempts,
    conclude,
    resolve_review,
    retrying,
    run_attempts,
)
from guardrail.scorers.base import Scorer

from ._chunks import (
    GUARDRAIL_FIELD,
    build_response,
    chunk_logprobs,
    chunk_text,
    frame,
    text_chunk,
    text_response,
)
from ._request import CompletionRequest, Reask, default_reask

__all__ = ["aguarded_completion", "guarded_completion"]

GuardedOutput = GuardedResult | ModelResponse
"""What a non-streamed call returns (``return_result`` picks which)."""


class _Call:
    """One guarded call: its request, the action loop and the attempt being run."""

    def __init__(self, config: GuardConfig, request: CompletionRequest, rng: Callable[[], float]):
        self.config = config
        self.request = request
        run_id = uuid.uuid4().hex
        self.audit = config.audit_run(run_id)
        self.loop: GuardLoop = config.loop(
            request.question,
            model=request.model,
            output_from_text=self.from_text,
            run_id=run_id,
            audit=self.audit,
            metadata={"source": "litellm"},
            rng=rng,
        )
        metadata = request.params.get("metadata")
        self.metadata: Mapping[str, Any] = metadata if isinstance(metadata, Mapping) else {}
        self.sample: ModelResponseStream | None = None
        self.shown = 0
        self.report: AttemptReport | None = None

    def from_text(self, text: str) -> ModelResponse:
        """A fallback or edited answer as a response of the attempt's model."""
        return text_response(text, self.loop.plan.model)

    def begin(self) -> tuple[AttemptPlan, AnswerWatch, float]:
        """Start the next attempt: its plan, a fresh watch and the start time."""
        plan = self.loop.plan
        tags = self.metadata.get("tags")
        context = RunContext(
            attempt=plan.attempt,
            model=plan.model,
            tags=frozenset(map(str, tags)) if isinstance(tags, list | tuple) else frozenset(),
            metadata={k: v for k, v in self.metadata.items() if k != "tags"},
            max_tokens=self.request.max_tokens,
        )
        self.shown = 0
        self.report = None
        watch = self.config.watch(self.request.question, context, audit=self.audit)
        return plan, watch, time.monotonic()

    def saw(self, chunk: Any) -> None:
        """Remember the first chunk: frames and replacement chunks imitate it."""
        if self.sample is None and isinstance(chunk, ModelResponseStream):
            self.sample = chunk

    def end(
        self,
        plan: AttemptPlan,
        watch: AnswerWatch,
        chunks: Sequence[Any],
        signal: GuardSignal | None,
        started: float,
    ) -> AttemptReport:
        """Record what the attempt did (its output rebuilt from the chunks, logprobs merged)."""
        if signal is not None:
            answer, events, output = signal.partial_answer, tuple(signal.events), None
        else:
            messages = self.request.messages_for(plan)
            answer, events, output = watch.answer, watch.events, build_response(chunks, messages)
        self.report = AttemptReport(
            answer=answer,
            output=output,
            events=events,
            decisions=watch.decisions,
            flags=watch.flags,
            signal=signal,
            pending_review=watch.pending_review,
            duration_s=time.monotonic() - started,
            model=self.request.opened,  # a fallback answered, not the plan's model
        )
        return self.report

    # -------------------------------------------------------------- attempts
    def chunks(self, completion: Callable[..., Any]) -> Iterator[Any]:
        """Run one attempt, yielding the chunks that may be shown; the report is kept."""
        plan, watch, started = self.begin()
        chunks: list[Any] = []
        signal: GuardSignal | None = None
        try:
            watch.start()
            with closing(self.request.open_stream(plan, completion)) as stream:
                for chunk in stream:
                    self.saw(chunk)
                    chunks.append(chunk)
                    watch.feed(chunk_text(chunk), chunk_logprobs(chunk))
                    self.shown += 1
                    yield chunk
            _finish(watch)
        except GuardSignal as exc:
            if exc is not watch.signal:
                raise
            signal = exc
        except GeneratorExit:
            watch.close()
            raise
        except BaseException as exc:
            watch.fail(exc)
            raise
        self.end(plan, watch, chunks, signal, started)

    async def achunks(self, acompletion: Callable[..., Awaitable[Any]]) -> AsyncIterator[Any]:
        """:meth:`chunks` for ``acompletion``; scoring runs in worker threads."""
        plan, watch, started = self.begin()
        chunks: list[Any] = []
        signal: GuardSignal | None = None
        try:
            await asyncio.to_thread(watch.start)
            stream = await self.request.aopen_stream(plan, acompletion)
            async with aclosing(stream):
                async for chunk in stream:
                    self.saw(chunk)
                    chunks.append(chunk)
                    await asyncio.to_thread(watch.feed, chunk_text(chunk), chunk_logprobs(chunk))
                    self.shown += 1
                    yield chunk
            await asyncio.to_thread(_finish, watch)
        except GuardSignal as exc:
            if exc is not watch.signal:
                raise
            signal = exc
        except (GeneratorExit, asyncio.CancelledError):
            watch.close()
            raise
        except BaseException as exc:
            watch.fail(exc)
            raise
        self.end(plan, watch, chunks, signal, started)

    def attempt(self, completion: Callable[..., Any]) -> AttemptReport:
        """Run one attempt to its end (nothing shown); return its report."""
        for _ in self.chunks(completion):
            pass
        assert self.report is not None
        return self.report

    async def aattempt(self, acompletion: Callable[..., Awaitable[Any]]) -> AttemptReport:
        """The async counterpart of :meth:`attempt`."""
        async for _ in self.achunks(acompletion):
            pass
        assert self.report is not None
        return self.report


def _finish(watch: AnswerWatch) -> None:
    """Score the outcome; an answer without text (tool calls only) is not judged."""
    if watch.answer.strip():
        watch.finish()
    else:
        watch.close()


def closing_chunks(
    step: Step, shown: int, report: AttemptReport, sample: ModelResponseStream | None
) -> list[ModelResponseStream]:
    """What to stream after the attempt ``report`` describes, given the loop's ``step``."""
    if isinstance(step, Again):
        if not shown:
            return []
        payload = {"next_attempt": step.plan.attempt, "action": step.plan.kind}
        return [frame("restart", {**payload, "discard_chunks": shown}, sample)]
    if isinstance(step, Finish):
        result = step.result
        chunks: list[ModelResponseStream] = []
        if report.signal is not None:  # the answer was cut or replaced: show the final one
            if shown:
                chunks.append(
                    frame("restart", {"status": result.status, "discard_chunks": shown}, sample)
                )
            if result.answer:
                chunks.append(text_chunk(result.answer, sample))
        chunks.append(frame("final", result.to_dict(), sample))
        return chunks
    if isinstance(step, Fail) and isinstance(step.signal.result, GuardedResult):
        return [frame("final", step.signal.result.to_dict(), sample, "content_filter")]
    return []


def _deliver(result: GuardedResult, return_result: bool) -> GuardedOutput:
    output = result.output
    if isinstance(output, ModelResponse):
        output._hidden_params[GUARDRAIL_FIELD] = result.to_dict()
        if not return_result:
            return output
    return result


def _stream(
    call: _Call, completion: Callable[..., Any], sleep: Callable[[float], None]
) -> Iterator[Any]:
    try:
        for retry in retrying(sleep):
            with retry:
                yield from call.chunks(completion)
                assert call.report is not None
                step = resolve_review(call.loop, call.loop.settle(call.report))
                yield from closing_chunks(step, call.shown, call.report, call.sample)
                conclude(step)
                return
    except BaseException as exc:
        call.loop.abandon(exc)
        raise


async def _astream(
    call: _Call,
    acompletion: Callable[..., Awaitable[Any]],
    asleep: Callable[[float], Awaitable[None]],
) -> AsyncIterator[Any]:
    try:
        async for retry in aretrying(asleep):
            with retry:
                async for chunk in call.achunks(acompletion):
                    yield chunk
                assert call.report is not None
                step = await aresolve_review(call.loop, call.loop.settle(call.report))
                for closing_chunk in closing_chunks(step, call.shown, call.report, call.sample):
                    yield closing_chunk
                conclude(step)
                return
    except BaseException as exc:
        call.loop.abandon(exc)
        raise


def _new_call(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    policy: PolicyLike | GuardConfig,
    scorer: Scorer | None,
    options: dict[str, Any],
    kwargs: dict[str, Any],
) -> _Call:
    if isinstance(policy, GuardConfig):
        config = policy
    else:
        config = GuardConfig(policy, scorer, review=options["review"], audit=options["audit"])
    request = CompletionRequest(
        model=model,
        messages=[dict(message) for message in messages],
        params=kwargs,
        fallbacks=[f if isinstance(f, str) else dict(f) for f in options["fallbacks"] or ()],
        model_params=options["model_params"] or {},
        reask=options["reask"] or default_reask,
    )
    return _Call(config, request, options["rng"])


def guarded_completion(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    policy: PolicyLike | GuardConfig = "default",
    scorer: Scorer | None = None,
    stream: bool = False,
    fallbacks: Sequence[str | Mapping[str, Any]] | None = None,
    review: object | None = None,
    audit: Any = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    router: Any = None,
    reask: Reask | None = None,
    return_result: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    **kwargs: Any,
) -> GuardedOutput | Iterator[ModelResponseStream]:
    """``litellm.completion`` under a guardrail policy (see the module documentation).

    ``model``, ``messages``, ``stream``, ``fallbacks`` and every other keyword are litellm's.
    ``policy`` is a :class:`~guardrail.policy.Policy`, a preset name, a file, YAML text, a
    mapping or a ready :class:`~guardrail.runtime.GuardConfig` (which then also supplies the
    scorer, mode, review sink and audit log); ``scorer`` defaults to the policy's
    ``scorer.model``. ``review`` is a review sink or :class:`guardrail.review.ReviewQueue`,
    ``audit`` a :class:`guardrail.audit.AuditLog`. ``model_params`` maps model names (escalation
    targets, fallbacks) to extra litellm arguments for calls to them; ``router`` (a
    ``litellm.Router``) serves the calls instead of ``litellm.completion``. ``reask`` builds the
    messages of a self-correction. ``sleep``/``rng`` drive the retry backoff.
    """
    options = {
        "review": review,
        "audit": audit,
        "fallbacks": fallbacks,
        "model_params": model_params,
        "reask": reask,
        "rng": rng,
    }
    call = _new_call(model, messages, policy, scorer, options, kwargs)
    completion = router.completion if router is not None else _litellm_completion
    if stream:
        return _stream(call, completion, sleep)
    result = run_attempts(call.loop, lambda plan: call.attempt(completion), sleep=sleep)
    return _deliver(result, return_result)


async def aguarded_completion(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    policy: PolicyLike | GuardConfig = "default",
    scorer: Scorer | None = None,
    stream: bool = False,
    fallbacks: Sequence[str | Mapping[str, Any]] | None = None,
    review: object | None = None,
    audit: Any = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    router: Any = None,
    reask: Reask | None = None,
    return_result: bool = True,
    asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    **kwargs: Any,
) -> GuardedOutput | AsyncIterator[ModelResponseStream]:
    """``litellm.acompletion`` under a guardrail policy; see :func:`guarded_completion`.

    Scoring runs in worker threads, so the event loop never waits on the scorer. With
    ``stream=True`` the awaited call returns an async iterator of chunks.
    """
    options = {
        "review": review,
        "audit": audit,
        "fallbacks": fallbacks,
        "model_params": model_params,
        "reask": reask,
        "rng": rng,
    }
    call = _new_call(model, messages, policy, scorer, options, kwargs)
    acompletion = router.acompletion if router is not None else _litellm_acompletion
    if stream:
        return _astream(call, acompletion, asleep)

    async def attempt(plan: AttemptPlan) -> AttemptReport:
        return await call.aattempt(acompletion)

    result = await arun_attempts(call.loop, attempt, sleep=asleep)
    return _deliver(result, return_result)


def _litellm_completion(**kwargs: Any) -> Any:
    return litellm.completion(**kwargs)  # looked up per call, so litellm can be patched


async def _litellm_acompletion(**kwargs: Any) -> Any:
    return await litellm.acompletion(**kwargs)
