"""One guarded litellm request: what each attempt sends, and opening its stream.

Every attempt is streamed (also for a non-streamed ``guarded_completion``), so that a checkpoint
can stop the generation. Two litellm gaps are handled here rather than left to litellm:

* **Fallbacks.** litellm 1.110's sync ``completion(stream=True, fallbacks=[...])`` runs the async
  fallback path and hands back a stream wrapped around an *async* generator, which fails on the
  first read (``MidStreamFallbackError: 'async_generator' object is not an iterator``). The
  guard therefore never passes ``fallbacks`` to litellm: it tries the attempt's model, then each
  fallback (a model name or a ``{"model": ..., **params}`` mapping, as litellm takes them), until
  one opens its stream and yields a first chunk. An error after the first chunk is not a fallback
  case: part of the answer was already streamed.
* **Logprobs.** The provider's logprobs are requested (``logprobs=True``, ``top_logprobs``) when
  litellm's ``get_supported_openai_params`` lists them for the model, and tried when litellm
  does not know the provider; a ``BadRequestError`` that names them (litellm's
  ``UnsupportedParamsError``, or the provider's own) reopens the stream without. Without
  logprobs the monitor falls back to the scorer LM's entropy. A caller who passes ``logprobs``
  or ``top_logprobs`` decides alone. When the policy's scorer reads the generator's logprobs
  (a ``logprob:`` scorer, ``require_logprobs``), they are always requested, whatever litellm
  believes; a provider that refuses them gets the stream reopened without, and the scorer's
  failure at the first checkpoint becomes the policy's ``on_error`` decision (logged here as a
  warning first).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import litellm

from guardrail.runtime import AttemptPlan

from ._async.opening import aopen_stream
from ._chunks import question_of
from ._sync.opening import open_stream
from .provider import PROVIDER

__all__ = [
    "DEFAULT_TOP_LOGPROBS",
    "AsyncCompletion",
    "Completion",
    "CompletionRequest",
    "Reask",
    "default_reask",
    "supported_logprob_params",
]

_logger = logging.getLogger(__name__)

DEFAULT_TOP_LOGPROBS = 5
"""Alternatives per token asked of providers that return logprobs (OpenAI allows up to 20)."""

_LOGPROB_PARAMS = ("logprobs", "top_logprobs")

Reask = Callable[[Sequence[Mapping[str, Any]], str], list[dict[str, Any]]]
"""``(messages, feedback prompt) -> messages`` for a self-correction attempt."""

Completion = Callable[..., Any]
"""``litellm.completion`` or a stand-in with its signature."""

AsyncCompletion = Callable[..., Awaitable[Any]]
"""``litellm.acompletion`` or a stand-in with its signature."""


def default_reask(messages: Sequence[Mapping[str, Any]], feedback: str) -> list[dict[str, Any]]:
    """The messages with ``feedback`` appended as a user message."""
    return [*(dict(m) for m in messages), {"role": "user", "content": feedback}]


def supported_logprob_params(model: str) -> frozenset[str] | None:
    """Which of ``logprobs``/``top_logprobs`` ``model`` accepts per litellm; ``None``: unknown."""
    try:
        provider = litellm.get_llm_provider(model=model)[1]
    except Exception:  # litellm raises a BadRequestError for a model it cannot place
        return None
    if provider == PROVIDER:
        return frozenset(_LOGPROB_PARAMS)
    params = litellm.get_supported_openai_params(model=model, custom_llm_provider=provider)
    if params is None:
        return None
    return frozenset(p for p in _LOGPROB_PARAMS if p in params)


@dataclass(slots=True)
class CompletionRequest:
    """The caller's request: model, messages, litellm arguments, fallbacks, per-model params.

    ``model_params`` maps a model name (an escalation target, a fallback) to extra litellm
    arguments for calls to it (``api_base``, ``api_key``, ``mock_response``...).
    """

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    fallbacks: list[str | dict[str, Any]] = field(default_factory=list)
    model_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reask: Reask = default_reask
    top_logprobs: int = DEFAULT_TOP_LOGPROBS
    opened: str | None = field(default=None, init=False, repr=False)
    """The model whose stream the last :meth:`open_stream` opened (a fallback, maybe)."""
    require_logprobs: bool = False

    @property
    def question(self) -> str:
        """What the scorer and the review item see: the last user message."""
        return question_of(self.messages)

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The caller's litellm ``metadata`` (tags and run metadata for the policy's rules)."""
        metadata = self.params.get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}

    @property
    def max_tokens(self) -> int | None:
        """The caller's token limit (``max_tokens`` or ``max_completion_tokens``)."""
        value = self.params.get("max_tokens") or self.params.get("max_completion_tokens")
        return value if isinstance(value, int) and value > 0 else None

    def messages_for(self, plan: AttemptPlan) -> list[dict[str, Any]]:
        """The messages of one attempt (re-asked with the feedback of a self-correction)."""
        if plan.feedback is None:
            return self.messages
        return self.reask(self.messages, plan.feedback)

    def candidates(self, plan: AttemptPlan) -> list[tuple[str, dict[str, Any]]]:
        """``(model, litellm arguments)`` to try in order: the attempt's model, then fallbacks."""
        found: list[tuple[str, dict[str, Any]]] = []
        for entry in [plan.model or self.model, *self.fallbacks]:
            options = dict(entry) if isinstance(entry, Mapping) else {"model": entry}
            model = str(options.pop("model", self.model))
            params = {**self.params, **self.model_params.get(model, {}), **options}
            if plan.temperature is not None:
                params["temperature"] = plan.temperature
            found.append((model, params))
        return found

    def logprob_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The logprob arguments to ask ``model`` for (none when the caller chose them)."""
        if any(name in params for name in _LOGPROB_PARAMS):
            return {}
        supported = supported_logprob_params(model)
        if supported is None or self.require_logprobs:
            supported = frozenset(_LOGPROB_PARAMS)
        wanted: dict[str, Any] = {}
        if "logprobs" in supported:
            wanted["logprobs"] = True
            if "top_logprobs" in supported and self.top_logprobs > 0:
                wanted["top_logprobs"] = self.top_logprobs
        return wanted

    def refused(self, model: str) -> None:
        """Log that ``model`` refused the logprob arguments (its stream reopens without)."""
        if self.require_logprobs:
            _logger.warning(
                "guardrail: %s refused logprobs; the policy's logprob scorer cannot score this "
                "answer and its on_error outcome applies",
                model,
            )
        else:
            _logger.info("guardrail: %s refused logprobs; using the scorer's entropy", model)

    def open_stream(self, plan: AttemptPlan, completion: Completion) -> Generator[Any, None, None]:
        """The attempt's stream, from its model or the first fallback that yields a chunk."""
        return open_stream(self, plan, completion)

    async def aopen_stream(
        self, plan: AttemptPlan, acompletion: AsyncCompletion
    ) -> AsyncGenerator[Any, None]:
        """The async counterpart of :meth:`open_stream`."""
        return await aopen_stream(self, plan, acompletion)
