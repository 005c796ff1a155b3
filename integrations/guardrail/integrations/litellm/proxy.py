"""FineCEGuardrail: the guardrail policy inside the LiteLLM proxy (``guardrails:`` in config.yaml).

.. code-block:: yaml

    guardrails:
      - guardrail_name: finece
        litellm_params:
          guardrail: guardrail.integrations.litellm.FineCEGuardrail
          mode: [during_call, post_call]
          default_on: true
          policy: /etc/litellm/policy.yaml     # a preset name, a policy file or YAML text

What each mode does (the proxy's own lifecycle, see ``docs/litellm.md``):

* ``post_call`` watches the answer. A streamed answer is scored chunk by chunk as the proxy relays
  it (``async_post_call_streaming_iterator_hook``); when the policy interrupts it, the stream is
  cut with a *block frame*: a chunk with an empty delta, ``finish_reason="content_filter"`` and a
  ``guardrail`` field saying why (``shown_chunks``: how many chunks of the answer the client
  got). The chunk that closed the checkpoint, and the model's closing chunk until the outcome
  checkpoint passed, are not relayed. ``streaming: hold_back`` (with at most
  ``hold_back_tokens`` chunks held) relays each chunk only once the next checkpoint passed, so
  a client never sees text the policy rejected (the runtime's
  :class:`~guardrail.runtime.chunks.ChunkGate`, as for the SDK and LangChain streams). A
  non-streamed answer is scored
  when complete (``async_post_call_success_hook``); an abort answers HTTP 400 (with the policy's
  fallback answer, if it has one, the response carries that answer instead).
* ``during_call`` scores the question checkpoint while the model runs
  (``async_moderation_hook``) and rejects the request (HTTP 400) when the policy interrupts
  there. With both modes the answer's watch skips the question checkpoint.

The proxy relays one generation: it is the runtime's :class:`~guardrail.runtime.GuardedCall`
(shared with the SDK and LangChain adapters) with one attempt, ``max_attempts=1``: ``retry``,
``escalate`` and ``self_correct`` end as an abort (use the proxy's router retries and fallbacks,
or :func:`~guardrail.integrations.litellm.guarded_completion`, to re-generate). ``flag`` and a
provisional ``human_review`` let the answer through (the review item is submitted; a streamed
answer then ends with a ``{"marker": "final"}`` frame); a blocking ``human_review`` waits for
the verdict.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.types.guardrails import GuardrailEventHooks
from litellm.types.utils import ModelResponse, ModelResponseStream

from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.policy import RunContext
from guardrail.policy.actions import AbortAction
from guardrail.runtime import (
    AnswerWatch,
    CallSpec,
    Fail,
    Finish,
    GuardConfig,
    GuardedCall,
    GuardedResult,
    GuardOptions,
    MarkerKind,
    Step,
    StreamingMode,
    resolve_policy,
)
from guardrail.runtime.options import split_settings
from guardrail.scorers.base import Scorer

from ._chunks import (
    GUARDRAIL_FIELD,
    chunk_logprobs,
    chunk_text,
    frame,
    logprob_entries,
    question_of,
    response_text,
    text_chunk,
)

__all__ = ["FineCEGuardrail"]

_TOKENS = re.compile(r"\n|[^\S\n]*\S+|[^\S\n]+")


class FineCEGuardrail(CustomGuardrail):
    """A LiteLLM proxy guardrail that scores answers with FineCE and applies a policy.

    ``policy`` is a preset name, a policy file or YAML text. ``scorer`` overrides the policy's
    ``scorer.model`` with another model reference, or names a ``module:attribute`` holding a
    :class:`~guardrail.scorers.Scorer` (or a class or factory that makes one, called without
    arguments). ``review_db`` is the review queue that human-review decisions go to (a file or a
    ``postgresql://`` URL), ``audit_log`` an audit log path or URL (``.db``: SQLite,
    ``postgresql://``: PostgreSQL, else JSON lines). ``observe=True`` records
    decisions without acting. The fields of :class:`~guardrail.runtime.GuardOptions` are the
    guard's settings, as for every other entry point (``options``, or the same keys in
    ``litellm_params``): ``streaming`` (``pass_through`` or ``hold_back``) and
    ``hold_back_tokens`` decide when a streamed answer's chunks are relayed (module docs),
    ``review_timeout_s`` how long a blocking review may hold the request (default 300 s,
    :data:`~guardrail.runtime.DEFAULT_REVIEW_TIMEOUT_S`); ``max_attempts`` is always 1. The
    proxy passes ``guardrail_name``, ``event_hook`` (the
    ``mode``) and ``default_on``; other keys of ``litellm_params`` reach litellm's base class.
    """

    def __init__(
        self,
        policy: str = "default",
        scorer: str | Scorer | None = None,
        review_db: str | None = None,
        audit_log: str | None = None,
        observe: bool = False,
        options: GuardOptions | None = None,
        **kwargs: Any,
    ) -> None:
        settings, kwargs = split_settings(kwargs)
        if observe:
            settings["mode"] = "observe"
        # one generation is relayed: one attempt; a bad setting fails at start-up, named
        self.options = GuardOptions.of(options, **settings).replace(max_attempts=1)
        kwargs.setdefault(
            "supported_event_hooks",
            [GuardrailEventHooks.during_call, GuardrailEventHooks.post_call],
        )
        super().__init__(**kwargs)
        self.streaming: StreamingMode = self.options.streaming
        self.hold_back_tokens = self.options.hold_back_tokens
        resolved = resolve_policy(policy)
        loaded: Scorer | None = None
        if isinstance(scorer, str) and ":" in scorer:
            loaded = _import_scorer(scorer)
        elif isinstance(scorer, str):
            resolved = resolved.model_copy(
                update={"scorer": resolved.scorer.model_copy(update={"model": scorer})}
            )
        elif scorer is not None:
            loaded = scorer
        sinks: dict[str, Any] = {
            "review": _review_queue(review_db),
            "audit": _audit_log(audit_log),
            "options": self.options,
        }
        self.config = GuardConfig(resolved, loaded, **sinks)
        self.answer_config = self.config
        checks_question = self._event_hook_is_event_type(GuardrailEventHooks.during_call)
        if checks_question and resolved.checkpoints.score_question:
            answer_policy = resolved.model_copy(
                update={
                    "checkpoints": resolved.checkpoints.model_copy(update={"score_question": False})
                }
            )
            self.answer_config = GuardConfig(answer_policy, self.config.scorer, **sinks)

    # ---------------------------------------------------------------- during_call
    async def async_moderation_hook(
        self, data: dict[str, object], user_api_key_dict: object, call_type: object
    ) -> None:
        """``during_call``: score the question checkpoint while the model generates."""
        messages = data.get("messages")
        if not isinstance(messages, list) or not self.config.policy.checkpoints.score_question:
            return
        watch = self.config.watch(question_of(messages), _context(data))
        try:
            await asyncio.to_thread(watch.start)
        except GuardSignal as signal:
            raise _http_error(_signal_summary(signal, None)) from signal
        finally:
            watch.close()

    # ------------------------------------------------------------ post_call, whole
    async def async_post_call_success_hook(
        self, data: dict[str, object], user_api_key_dict: object, response: object
    ) -> object:
        """``post_call``, non-streamed: score the complete answer; block or replace it."""
        if not isinstance(response, ModelResponse):
            return response
        run = _Run(self.answer_config, data)
        with run.attempt():
            await asyncio.to_thread(_feed_whole, run.watch, response)
        signal = run.call.signal
        step = await run.settle(response)
        summary = _summary(step, signal)
        if isinstance(step, Fail):
            raise _http_error(summary)
        if signal is not None and isinstance(step, Finish):  # fallback or reviewed answer
            choice = response.choices[0]
            choice.message.content = step.result.answer
        upstream = getattr(response, GUARDRAIL_FIELD, None)
        if not (isinstance(upstream, Mapping) and signal is None and summary["status"] == "ok"):
            # accepted answers carry it too; an earlier guardrail's record of a replaced
            # answer is kept over this one's plain "ok" on the replacement
            setattr(response, GUARDRAIL_FIELD, summary)
        return response

    # ----------------------------------------------------------- post_call, stream
    async def async_post_call_streaming_iterator_hook(
        self,
        user_api_key_dict: object,
        response: AsyncIterator[ModelResponseStream],
        request_data: dict[str, object],
    ) -> AsyncGenerator[ModelResponseStream, None]:
        """``post_call``, streamed: relay and score each chunk; cut with a block frame."""
        frames = _StreamFrames()
        run = _Run(self.answer_config, request_data, self.streaming, self.hold_back_tokens, frames)
        closing: list[Any] = []
        sample: ModelResponseStream | None = None
        deferred = False  # an earlier guardrail in the chain replaced or cut the answer
        with run.attempt():  # the client going away releases the scoring session
            await asyncio.to_thread(run.watch.start)
            async for chunk in response:
                deferred = deferred or _replaced_upstream(chunk)
                if deferred or not isinstance(chunk, ModelResponseStream):
                    yield chunk
                    continue
                sample = frames.like = sample or chunk
                await asyncio.to_thread(run.feed, chunk)
                if closing or _closes(chunk):
                    closing.append(chunk)  # released once the outcome checkpoint passed
                    continue
                for released in run.call.push(chunk, [run.watch]):
                    yield released
            if deferred:
                run.watch.close()  # that guardrail's record and markers stand
            else:
                await asyncio.to_thread(run.watch.end)
        if deferred:
            run.call.close(await run.settle(None))
            return
        signal = run.call.signal
        if signal is not None:
            await _close(response)
        step = await run.settle(None)
        shown = run.call.shown
        if isinstance(step, Fail):  # an abort without fallback answer, a rejected review
            run.call.close(step)
            summary = {**_summary(step, signal), "shown_chunks": shown}
            yield frame("block", summary, sample, "content_filter")
            return
        # the held chunks when the answer passed; for a replaced one a restart marker and the
        # replacement as text; last the final marker with the call's record (and its summary)
        for chunk in run.call.close(step):
            yield chunk
        if not closing:
            closing.append(text_chunk("", sample, "stop"))
        for chunk in closing:
            yield chunk


class _Run:
    """One proxied answer: a :class:`~guardrail.runtime.GuardedCall` with one attempt.

    ``streaming`` ``None``: a whole answer (the call releases nothing; the hook returns it).
    """

    def __init__(
        self,
        config: GuardConfig,
        data: Mapping[str, Any],
        streaming: StreamingMode | None = None,
        hold_back_tokens: int | None = None,
        frames: _StreamFrames | None = None,
    ) -> None:
        messages = data.get("messages")
        question = question_of(messages) if isinstance(messages, list) else ""
        context = _context(data)
        spec = CallSpec(
            question,
            model=context.model,
            source="litellm-proxy",
            run_id=str(data.get("litellm_call_id") or uuid.uuid4().hex),
        )
        self.call: GuardedCall[ModelResponseStream] = GuardedCall(
            config, spec, frames=frames, streaming=streaming, hold_back_tokens=hold_back_tokens
        )
        self.call.begin()
        self.watch: AnswerWatch = self.call.watch(context)

    def attempt(self) -> AbstractContextManager[None]:
        """Relay the answer: keep the watch's signal; another error ends watch and call."""
        return self.call.attempt(self.watch)

    def feed(self, chunk: ModelResponseStream) -> None:
        """Score one relayed chunk (raises the guard signal of an interrupting checkpoint)."""
        self.watch.feed(chunk_text(chunk), chunk_logprobs(chunk))

    async def settle(self, output: Any) -> Step:
        """Record the attempt; carry out the decision (review included) with the runtime."""
        return await self.call.asettle([self.watch], output)


class _StreamFrames:
    """The gate's markers and replacement text as chunks of the relayed stream (``like``)."""

    def __init__(self) -> None:
        self.like: ModelResponseStream | None = None

    def marker(
        self, kind: MarkerKind, payload: Mapping[str, Any], *, failed: bool = False
    ) -> ModelResponseStream:
        """A frame ``{"marker": kind, **payload}``."""
        return frame(kind, payload, self.like)

    def text(self, text: str) -> ModelResponseStream:
        """A fallback or reviewed answer, as the text of one chunk."""
        return text_chunk(text, self.like, None)


def _replaced_upstream(chunk: object) -> bool:
    """True for a frame of an earlier guardrail that takes the answer back (restart, block)."""
    payload = getattr(chunk, GUARDRAIL_FIELD, None)
    return isinstance(payload, Mapping) and payload.get("marker") in ("restart", "block")


def _closes(chunk: ModelResponseStream) -> bool:
    """True for the model's closing chunk (it carries a finish reason)."""
    return bool(chunk.choices) and chunk.choices[0].finish_reason is not None


def _context(data: Mapping[str, Any]) -> RunContext:
    max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
    return RunContext(
        model=str(data.get("model") or ""),
        max_tokens=max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None,
    )


def _feed_whole(watch: AnswerWatch, response: ModelResponse) -> None:
    """Score a complete answer token by token (its logprobs' tokens when they spell it)."""
    text = response_text(response)
    entries = logprob_entries(getattr(response.choices[0], "logprobs", None))
    tokens = [
        str(getattr(e, "token", None) or (e.get("token") if isinstance(e, Mapping) else ""))
        for e in entries
    ]
    watch.start()
    if entries and "".join(tokens) == text:
        for token, entry in zip(tokens, entries, strict=True):
            watch.feed(token, entry)
    else:
        for piece in _TOKENS.findall(text):
            watch.feed(piece)
    watch.end()


def _signal_summary(signal: GuardSignal, result: GuardedResult | None) -> dict[str, Any]:
    decision = signal.decision
    action = None if decision is None else decision.action
    event = None if decision is None else decision.event
    return {
        "status": None if result is None else result.status,
        "action": None if action is None else action.type,
        "rule": None if decision is None else decision.rule,
        "message": action.message if isinstance(action, AbortAction) else str(signal),
        "checkpoint": None if event is None else event.index,
        "confidence": None if event is None else event.revised,
    }


def _summary(step: Step, signal: GuardSignal | None) -> dict[str, Any]:
    """The ``guardrail`` payload of a proxied answer."""
    result: Any = None
    if isinstance(step, Finish):
        result = step.result
    elif isinstance(step, Fail):
        result = step.signal.result
    payload: dict[str, Any] = {"status": None, "action": None, "rule": None, "message": None}
    if isinstance(step, Fail):
        payload = _signal_summary(step.signal, result)
    elif signal is not None:
        payload = _signal_summary(signal, result)
    if isinstance(result, GuardedResult):
        payload["summary"] = result.summary()
        payload["status"] = result.status
        payload["final_confidence"] = result.final_confidence
        payload["review_id"] = result.review_id
        payload["flags"] = [dict(flag) for flag in result.flags]
        replaced = signal is not None and isinstance(step, Finish)
        payload["answer"] = result.answer if replaced else None
    payload.setdefault("review_id", None)
    payload.setdefault("flags", [])
    return payload


def _http_error(summary: Mapping[str, Any]) -> Exception:
    from fastapi import HTTPException  # the proxy's dependency; only raised inside the proxy

    message = f"guardrail: {summary.get('action') or 'abort'}: {summary.get('message')}"
    return HTTPException(status_code=400, detail={"error": message, GUARDRAIL_FIELD: dict(summary)})


async def _close(stream: AsyncIterator[Any]) -> None:
    aclose = getattr(stream, "aclose", None)
    if callable(aclose):
        await aclose()


def _import_scorer(reference: str) -> Scorer:
    module_name, _, attribute = reference.partition(":")
    try:
        found: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise GuardrailConfigError(f"scorer {reference!r} cannot be imported: {exc}") from exc
    if inspect.isclass(found) or (callable(found) and not hasattr(found, "open_session")):
        found = found()
    if not isinstance(found, Scorer):
        raise GuardrailConfigError(f"scorer {reference!r} is not a Scorer: {found!r}")
    return found


def _review_queue(path: str | None) -> Any:
    if path is None:
        return None
    from guardrail.review import open_review_store

    return open_review_store(path)


def _audit_log(path: str | None) -> Any:
    if path is None:
        return None
    from guardrail.audit import open_audit_log

    return open_audit_log(path)
