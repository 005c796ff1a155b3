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

Streamed (``stream=True``), the model's chunks are passed through as they arrive
(``streaming="pass_through"``, the default) or held until a checkpoint passes
(``streaming="hold_back"``, at most ``hold_back_tokens`` chunks held), as with
:func:`~guardrail.integrations.langchain.guard`; the chunk that closes an interrupting
checkpoint is never shown. Frames (``ModelResponseStream`` with an empty delta and a
``guardrail`` field) tell the caller what happened: ``{"marker": "restart", "discard_chunks":
n, ...}`` before another attempt or a replacement answer (fallback, edited) when ``n`` chunks
of the interrupted one were shown, and ``{"marker": "final", ...}`` (the result as a dict)
last. A call that fails (abort without fallback answer, rejected review) ends with its final
frame, ``finish_reason="content_filter"``, then raises the signal
(:class:`~guardrail.runtime.GuardAborted`). The attempts, releases and frames are the
runtime's :class:`~guardrail.runtime.GuardedCall`; this module only opens the streams and
reads their chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

import litellm
from litellm.types.utils import ModelResponse, ModelResponseStream

from guardrail.audit.log import AuditLog
from guardrail.policy import RunContext
from guardrail.runtime import (
    AttemptOutput,
    AttemptPlan,
    CallSpec,
    ChunkWatcher,
    GuardConfig,
    GuardedCall,
    GuardedResult,
    GuardOptions,
    MarkerKind,
    OpenAttempt,
    PolicyLike,
)
from guardrail.runtime.options import split_settings
from guardrail.runtime.records import AttemptReport
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

GuardedOutput = GuardedResult[ModelResponse] | ModelResponse
"""What a non-streamed call returns (``return_result`` picks which)."""


class _Frames:
    """The gate's markers as litellm frames, shaped like the stream's first chunk."""

    def __init__(self) -> None:
        self.sample: ModelResponseStream | None = None

    def saw(self, chunk: Any) -> None:
        """Remember the first chunk: frames and replacement chunks imitate it."""
        if self.sample is None and isinstance(chunk, ModelResponseStream):
            self.sample = chunk

    def marker(
        self, kind: MarkerKind, payload: Mapping[str, Any], *, failed: bool = False
    ) -> ModelResponseStream:
        """A frame; a failed call's final frame says ``finish_reason="content_filter"``."""
        return frame(kind, payload, self.sample, "content_filter" if failed else None)

    def text(self, text: str) -> ModelResponseStream:
        """A replacement answer as one chunk."""
        return text_chunk(text, self.sample)


class _Attempt:
    """One attempt of a guarded completion: the stream of its model (or of a fallback)."""

    def __init__(
        self,
        call: GuardedCall[Any],
        request: CompletionRequest,
        frames: _Frames,
        completion: Callable[..., Any],
        plan: AttemptPlan,
    ) -> None:
        self.request = request
        self.frames = frames
        self.completion = completion
        self.plan = plan
        tags = request.metadata.get("tags")
        context = RunContext(
            attempt=plan.attempt,
            model=plan.model,
            tags=frozenset(map(str, tags)) if isinstance(tags, list | tuple) else frozenset(),
            metadata={k: v for k, v in request.metadata.items() if k != "tags"},
            max_tokens=request.max_tokens,
        )
        self.watcher: ChunkWatcher[Any] = ChunkWatcher(
            call.watch(context), chunk_text, chunk_logprobs
        )

    def open(self) -> Iterator[Any]:
        """The attempt's stream from ``litellm.completion`` (or the router)."""
        return self.request.open_stream(self.plan, self.completion)

    async def aopen(self) -> AsyncIterator[Any]:
        """The attempt's stream from ``litellm.acompletion`` (or the router)."""
        stream = await self.request.aopen_stream(self.plan, self.completion)
        async with aclosing(stream):
            async for chunk in stream:
                yield chunk

    def output(self, chunks: Sequence[Any], interrupted: bool) -> AttemptOutput:
        """The response rebuilt from the chunks (logprobs merged), unless interrupted."""
        for chunk in chunks[:1]:
            self.frames.saw(chunk)
        output = (
            None if interrupted else build_response(chunks, self.request.messages_for(self.plan))
        )
        return AttemptOutput(output, model=self.request.opened)  # opened: a fallback's name

    def reported(self, report: AttemptReport) -> None:
        """Nothing to hand to litellm."""


def _deliver(result: GuardedResult[Any], return_result: bool) -> GuardedOutput:
    output = result.output
    if isinstance(output, ModelResponse):
        output._hidden_params[GUARDRAIL_FIELD] = result.to_dict()
        if not return_result:
            return output
    return result


class Router(Protocol):
    """What the guard uses of a ``litellm.Router``: its completion functions."""

    @property
    def completion(self) -> Callable[..., object]:
        """The router's ``completion``."""
        ...

    @property
    def acompletion(self) -> Callable[..., Awaitable[object]]:
        """The router's ``acompletion``."""
        ...


@dataclass(frozen=True, slots=True)
class _Guarding:
    """The guard's arguments of one ``guarded_completion`` call (the rest are litellm's)."""

    policy: PolicyLike | GuardConfig
    scorer: Scorer | None
    fallbacks: Sequence[str | Mapping[str, object]] | None
    review: object | None
    audit: AuditLog | None
    model_params: Mapping[str, Mapping[str, object]] | None
    reask: Reask | None
    options: GuardOptions | None


def _new_call(
    model: str,
    messages: Sequence[Mapping[str, object]],
    guarding: _Guarding,
    kwargs: dict[str, object],
    completion: Callable[..., object],
    *,
    streamed: bool,
) -> tuple[GuardedCall[Any], OpenAttempt[Any], GuardOptions]:
    settings, params = split_settings(kwargs)
    policy = guarding.policy
    if isinstance(policy, GuardConfig):
        config = policy
    else:
        config = GuardConfig(
            policy,
            guarding.scorer,
            review=guarding.review,
            audit=guarding.audit,
            options=guarding.options,
            **settings,
        )
    options = GuardOptions.of(guarding.options or config.options, **settings)
    request = CompletionRequest(
        model=model,
        messages=[dict(message) for message in messages],
        params=params,
        fallbacks=[f if isinstance(f, str) else dict(f) for f in guarding.fallbacks or ()],
        model_params=guarding.model_params or {},
        reask=guarding.reask or default_reask,
        require_logprobs=config.scorer_reads_logprobs,
    )
    frames = _Frames()
    holder: list[GuardedCall[Any]] = []

    def from_text(text: str) -> ModelResponse:
        """A fallback or edited answer as a response of the attempt's model."""
        return text_response(text, holder[0].plan.model)

    spec = CallSpec(
        request.question, model=request.model, source="litellm", output_from_text=from_text
    )
    call: GuardedCall[Any] = GuardedCall(
        config,
        spec,
        frames=frames if streamed else None,
        streaming=options.streaming,
        hold_back_tokens=options.hold_back_tokens,
        rng=options.rng,
    )
    holder.append(call)
    return call, lambda plan: _Attempt(call, request, frames, completion, plan), options


def guarded_completion(
    model: str,
    messages: Sequence[Mapping[str, object]],
    *,
    policy: PolicyLike | GuardConfig = "default",
    scorer: Scorer | None = None,
    stream: bool = False,
    fallbacks: Sequence[str | Mapping[str, object]] | None = None,
    review: object | None = None,
    audit: AuditLog | None = None,
    model_params: Mapping[str, Mapping[str, object]] | None = None,
    router: Router | None = None,
    reask: Reask | None = None,
    return_result: bool = True,
    options: GuardOptions | None = None,
    **kwargs: object,
) -> GuardedOutput | Iterator[ModelResponseStream]:
    """``litellm.completion`` under a guardrail policy (see the module documentation).

    ``model``, ``messages``, ``stream``, ``fallbacks`` and every other keyword are litellm's,
    except the fields of :class:`~guardrail.runtime.GuardOptions` (``streaming``,
    ``hold_back_tokens``, ``mode``, ``latency_budget_s``, ``max_attempts``,
    ``review_timeout_s``, ``sleep``/``asleep``/``rng``), which are the guard's, as
    ``options`` is: the call's settings, shared with every other entry point.
    ``policy`` is a :class:`~guardrail.policy.Policy`, a preset name, a file, YAML text, a
    mapping or a ready :class:`~guardrail.runtime.GuardConfig` (which then also supplies the
    scorer, mode, review sink and audit log); ``scorer`` defaults to the policy's
    ``scorer.model``. ``review`` is a review sink or :class:`guardrail.review.ReviewQueue`,
    ``audit`` a :class:`guardrail.audit.AuditLog`. ``model_params`` maps model names (escalation
    targets, fallbacks) to extra litellm arguments for calls to them; ``router`` (a
    ``litellm.Router``) serves the calls instead of ``litellm.completion``. ``reask`` builds the
    messages of a self-correction. ``streaming`` (``"pass_through"`` or ``"hold_back"``) and
    ``hold_back_tokens`` decide when a stream's chunks are shown (see the module documentation).
    """
    guarding = _Guarding(policy, scorer, fallbacks, review, audit, model_params, reask, options)
    completion = router.completion if router is not None else _litellm_completion
    call, attempt, settings = _new_call(
        model, messages, guarding, kwargs, completion, streamed=stream
    )
    if stream:
        return call.stream(attempt, sleep=settings.sleep)
    return _deliver(call.run(attempt, sleep=settings.sleep), return_result)


async def aguarded_completion(
    model: str,
    messages: Sequence[Mapping[str, object]],
    *,
    policy: PolicyLike | GuardConfig = "default",
    scorer: Scorer | None = None,
    stream: bool = False,
    fallbacks: Sequence[str | Mapping[str, object]] | None = None,
    review: object | None = None,
    audit: AuditLog | None = None,
    model_params: Mapping[str, Mapping[str, object]] | None = None,
    router: Router | None = None,
    reask: Reask | None = None,
    return_result: bool = True,
    options: GuardOptions | None = None,
    **kwargs: object,
) -> GuardedOutput | AsyncIterator[ModelResponseStream]:
    """``litellm.acompletion`` under a guardrail policy; see :func:`guarded_completion`.

    Scoring runs in worker threads, so the event loop never waits on the scorer. With
    ``stream=True`` the awaited call returns an async iterator of chunks.
    """
    guarding = _Guarding(policy, scorer, fallbacks, review, audit, model_params, reask, options)
    completion = router.acompletion if router is not None else _litellm_acompletion
    call, attempt, settings = _new_call(
        model, messages, guarding, kwargs, completion, streamed=stream
    )
    if stream:
        return call.astream(attempt, sleep=settings.asleep)
    return _deliver(await call.arun(attempt, sleep=settings.asleep), return_result)


def _litellm_completion(**kwargs: Any) -> Any:
    return litellm.completion(**kwargs)  # looked up per call, so litellm can be patched


async def _litellm_acompletion(**kwargs: Any) -> Any:
    return await litellm.acompletion(**kwargs)
