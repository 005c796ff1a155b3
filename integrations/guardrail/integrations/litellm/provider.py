"""The embedded model as a litellm custom provider, with per-token logprobs in OpenAI's shape.

After :func:`register_local_provider`, ``litellm.completion(model="guardrail-local/smollm2",
messages=..., logprobs=True, top_logprobs=5)`` (and ``acompletion``, streamed or not) runs the
embedded SmolLM2-135M-Instruct through :class:`guardrail.generation.LocalGenerator`, offline.
``guardrail-local/<ref>`` serves any other model reference that ``load_model`` accepts (a
``builtin:`` name, a local directory, a ``.gguf`` file, a cached Hugging Face id).

How logprobs reach the caller (read in litellm 1.110's source): ``GenericStreamingChunk``, the
documented item of ``CustomLLM.streaming``, has no logprobs field, and its
``provider_specific_fields`` become attributes of the outgoing chunk, not
``choices[0].logprobs``. ``CustomStreamWrapper`` (``_dispatch_provider_chunk``) however passes a
``ModelResponseStream`` from a custom provider through as it is, only moving a finish reason that
comes with content to its own closing chunk. So :meth:`LocalModelProvider.streaming` and
:meth:`~LocalModelProvider.astreaming` yield ``ModelResponseStream`` chunks whose
``choices[0].logprobs`` is ``{"content": [...]}``, and the non-streamed response carries the
same in ``choices[0].logprobs``. As with OpenAI, logprobs are returned only with
``logprobs=True``, listing ``top_logprobs`` alternatives (default 0). ``temperature`` defaults
to 0 (greedy). A stop string is never returned, nor streamed: text that may start one is held
back until it is known not to, and each chunk carries the logprobs of the tokens generated
since the previous one.

``LITELLM_LOCAL_MODEL_COST_MAP`` is set to ``True`` before litellm is imported, unless already
set, so that importing litellm does not fetch its model cost map from the network.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from guardrail._optional import require
from guardrail.errors import ModelUnavailableError
from guardrail.generation import LocalGenerator, PromptTooLongError, render_chat
from guardrail.streamtools import TextPiece, TextRelease, iterate_in_thread

try:
    import litellm
    from litellm.llms.custom_llm import CustomLLM, CustomLLMError
    from litellm.types.utils import (
        Choices,
        Delta,
        Message,
        ModelResponse,
        ModelResponseStream,
        StreamingChoices,
        Usage,
    )
except ImportError:
    require("litellm", "litellm")  # raises MissingExtraError naming the extra
    raise

__all__ = [
    "DEFAULT_MODEL_REF",
    "MODEL_ALIASES",
    "PROVIDER",
    "LocalModelProvider",
    "register_local_provider",
]

PROVIDER = "guardrail-local"
DEFAULT_MODEL_REF = "builtin:smollm2-135m-instruct"
MODEL_ALIASES: Mapping[str, str] = MappingProxyType(
    {"smollm2": DEFAULT_MODEL_REF, "smollm2-135m-instruct": DEFAULT_MODEL_REF}
)
"""Short model names served under ``guardrail-local/`` and the references they load."""

_SUPPORTED_PARAMS = frozenset(
    {
        "logprobs",
        "max_completion_tokens",
        "max_retries",  # sent by litellm.Router and the proxy; local generation does not retry
        "max_tokens",
        "n",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "top_logprobs",
        "top_p",
        "user",
    }
)
_register_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Request:
    """One call: the generator, the rendered prompt and the generation options."""

    model: str
    generator: LocalGenerator
    prompt: str
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: tuple[str, ...]
    logprobs: bool
    top_logprobs: int


class LocalModelProvider(CustomLLM):
    """Serves ``guardrail-local/<name>`` from local models, streamed or not, sync or async.

    ``<name>`` is looked up in the models added with :meth:`add_model`, then in
    :data:`MODEL_ALIASES`, and is otherwise taken as a model reference. Models are loaded on
    first use through ``load_model`` (shared with any scorer on the same reference) on
    ``device`` in ``dtype``. An unknown model is litellm's ``NotFoundError``; a bad request
    (no messages, a message the chat template cannot render, a prompt that fills the model's
    context window, an unsupported parameter: tools, ``n`` > 1, penalties, ...) its
    ``BadRequestError`` (HTTP 400 through the proxy), raised before any generation.
    """

    def __init__(self, *, device: str = "auto", dtype: str = "auto") -> None:
        super().__init__()
        self.device = device
        self.dtype = dtype
        self._refs: dict[str, str] = dict(MODEL_ALIASES)
        self._generators: dict[str, LocalGenerator] = {}
        self._lock = threading.Lock()

    def add_model(self, name: str, model: str | LocalGenerator) -> None:
        """Serve ``guardrail-local/<name>`` from a model reference or a loaded generator."""
        with self._lock:
            self._generators.pop(name, None)
            if isinstance(model, LocalGenerator):
                self._generators[name] = model
            else:
                self._refs[name] = model

    def generator_for(self, name: str) -> LocalGenerator:
        """The generator serving ``guardrail-local/<name>``, loading its model if needed."""
        with self._lock:
            if name in self._generators:
                return self._generators[name]
            ref = self._refs.get(name, name)
        try:
            generator = LocalGenerator.from_ref(ref, device=self.device, dtype=self.dtype)
        except ModelUnavailableError as exc:
            raise _error(404, str(exc)) from exc
        with self._lock:
            return self._generators.setdefault(name, generator)

    def completion(self, *args: object, **kwargs: object) -> ModelResponse:
        """Generate the whole answer (litellm passes every argument by keyword)."""
        request = self._request(args, kwargs)
        return _response(_model_response(kwargs), request, _pieces(request))

    async def acompletion(self, *args: object, **kwargs: object) -> ModelResponse:
        """:meth:`completion` with every model step in a worker thread."""
        request = await asyncio.to_thread(self._request, args, kwargs)
        async with aclosing(iterate_in_thread(_pieces(request))) as pieces:
            collected = [piece async for piece in pieces]
        return _response(_model_response(kwargs), request, collected)

    def streaming(  # type: ignore[override]  # ModelResponseStream: see the module docstring
        self, *args: object, **kwargs: object
    ) -> Iterator[ModelResponseStream]:
        """Stream the answer as OpenAI-shaped chunks carrying their tokens' logprobs."""
        request = self._request(args, kwargs)
        return _stream_chunks(request)

    def astreaming(  # type: ignore[override]  # an async iterator, as litellm consumes it
        self, *args: object, **kwargs: object
    ) -> AsyncIterator[ModelResponseStream]:
        """:meth:`streaming` with every model step in a worker thread.

        litellm calls this from a worker thread already, so loading the model and rendering
        the prompt here does not block the event loop.
        """
        request = self._request(args, kwargs)
        return iterate_in_thread(_stream_chunks(request))

    def _request(self, args: tuple[object, ...], kwargs: Mapping[str, Any]) -> _Request:
        if args:  # litellm.main._complete_custom_providers passes every argument by keyword
            raise TypeError(f"{PROVIDER} takes litellm's arguments by keyword only")
        params: dict[str, Any] = dict(kwargs.get("optional_params") or {})
        unsupported = sorted(set(params) - _SUPPORTED_PARAMS)
        if unsupported:
            raise _error(
                400,
                f"{PROVIDER} does not support {unsupported}; "
                f"supported: {sorted(_SUPPORTED_PARAMS)}",
            )
        if params.get("n", 1) != 1:
            raise _error(400, f"{PROVIDER} supports only n=1")
        logprobs = bool(params.get("logprobs"))
        top_logprobs = int(params.get("top_logprobs") or 0)
        if top_logprobs and not logprobs:
            raise _error(400, "top_logprobs requires logprobs=True")
        stop = params.get("stop") or ()
        model = str(kwargs["model"])
        messages = _chat_messages(kwargs.get("messages"))
        generator = self.generator_for(model)
        prompt = _render(generator, messages)
        try:
            max_tokens = int(params.get("max_tokens") or params.get("max_completion_tokens") or 256)
            temperature = float(params.get("temperature") or 0.0)
            top_p = float(params.get("top_p") or 1.0)
        except (TypeError, ValueError) as exc:
            raise _error(400, f"{PROVIDER}: a sampling parameter is not a number: {exc}") from exc
        if max_tokens < 1:
            raise _error(400, f"{PROVIDER}: max_tokens must be >= 1, got {max_tokens}")
        prompt_tokens = len(generator.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        try:
            generator.room(prompt_tokens, max_tokens)
        except PromptTooLongError as exc:
            raise _error(400, str(exc)) from exc
        return _Request(
            model=model,
            generator=generator,
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=params.get("seed"),
            stop=(stop,) if isinstance(stop, str) else tuple(stop),
            logprobs=logprobs,
            top_logprobs=top_logprobs,
        )


def register_local_provider(
    models: Mapping[str, str | LocalGenerator] | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
) -> LocalModelProvider:
    """Register ``guardrail-local`` with litellm (once) and return its provider.

    Calling it again returns the same provider, adding ``models`` (name to model reference or
    loaded :class:`~guardrail.generation.LocalGenerator`) to those it serves; ``device`` and
    ``dtype`` apply to models loaded by a provider created by this call.
    """
    with _register_lock:
        provider: LocalModelProvider | None = None
        for entry in litellm.custom_provider_map:
            handler = entry.get("custom_handler")
            if entry.get("provider") == PROVIDER and isinstance(handler, LocalModelProvider):
                provider = handler
        if provider is None:
            provider = LocalModelProvider(device=device, dtype=dtype)
            litellm.custom_provider_map = [
                *(e for e in litellm.custom_provider_map if e.get("provider") != PROVIDER),
                {"provider": PROVIDER, "custom_handler": provider},
            ]
    for name, model in (models or {}).items():
        provider.add_model(name, model)
    return provider


def _error(status_code: int, message: str) -> CustomLLMError:
    """An error litellm maps by status: 400 ``BadRequestError``, 404 ``NotFoundError``."""
    return CustomLLMError(status_code=status_code, message=message)  # type: ignore[no-untyped-call]


def _render(generator: LocalGenerator, messages: Sequence[dict[str, str]]) -> str:
    """The prompt for ``messages``; a chat the template refuses is a bad request."""
    try:
        return render_chat(generator.tokenizer, messages)
    except Exception as exc:  # jinja2's TemplateError, a tokenizer's ValueError, ...
        raise _error(
            400, f"{PROVIDER}: the model's chat template cannot render these messages: {exc}"
        ) from exc


def _chat_messages(messages: object) -> list[dict[str, str]]:
    """OpenAI chat messages as plain ``{"role", "content"}`` dicts; text parts only."""
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise _error(400, f"{PROVIDER}: 'messages' must be a non-empty list of chat messages")
    chat = []
    for position, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise _error(
                400, f"{PROVIDER}: messages[{position}] must be an object with a 'role' string"
            )
        content = message.get("content")
        if content is None:
            text = ""
        elif isinstance(content, str):
            text = content
        else:
            parts = list(content)
            if any(not isinstance(part, Mapping) or part.get("type") != "text" for part in parts):
                raise _error(400, f"{PROVIDER} accepts text message content only")
            text = "".join(str(part.get("text", "")) for part in parts)
        chat.append({"role": str(message.get("role", "user")), "content": text})
    return chat


@dataclass(frozen=True, slots=True)
class _End:
    """Closes a generation: why it ended and how many tokens went in and came out."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _pieces(request: _Request) -> Iterator[TextPiece | _End]:
    """Released text pieces of one generation, then its :class:`_End`."""
    release = TextRelease(request.stop)
    steps = request.generator.stream(
        request.prompt,
        max_new_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        top_logprobs=request.top_logprobs,
        stop=request.stop,
        seed=request.seed,
    )
    for step in steps:
        if (piece := release.push(step)) is not None:
            yield piece
        if release.stopped:
            break
    if (piece := release.flush()) is not None:
        yield piece
    length = release.tokens >= request.max_tokens and not release.stopped
    tokenizer = request.generator.tokenizer
    yield _End(
        finish_reason="length" if length else "stop",
        prompt_tokens=len(tokenizer(request.prompt, add_special_tokens=False)["input_ids"]),
        completion_tokens=release.tokens,
    )


def _stream_chunks(request: _Request) -> Iterator[ModelResponseStream]:
    response_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    role: str | None = "assistant"
    for item in _pieces(request):
        if isinstance(item, _End):
            choice = StreamingChoices(index=0, delta=Delta(), finish_reason=item.finish_reason)
        else:
            choice = StreamingChoices(
                index=0,
                delta=Delta(content=item.text, role=role),
                logprobs={"content": item.logprobs} if request.logprobs else None,
            )
            role = None
        yield ModelResponseStream(
            id=response_id, created=created, model=request.model, choices=[choice]
        )


def _model_response(kwargs: Mapping[str, object]) -> ModelResponse:
    """The ``model_response`` litellm passes to be filled in."""
    response = kwargs.get("model_response")
    if not isinstance(response, ModelResponse):
        raise TypeError(f"{PROVIDER} needs litellm's model_response, got {response!r}")
    return response


def _response(
    response: ModelResponse, request: _Request, items: Iterable[TextPiece | _End]
) -> ModelResponse:
    """Fill litellm's ``model_response`` with the collected answer."""
    text: list[str] = []
    logprobs: list[dict[str, Any]] = []
    end = _End("stop", 0, 0)
    for item in items:
        if isinstance(item, _End):
            end = item
        else:
            text.append(item.text)
            logprobs.extend(item.logprobs)
    response.choices = [
        Choices(
            index=0,
            finish_reason=end.finish_reason,
            message=Message(content="".join(text), role="assistant"),
            logprobs={"content": logprobs} if request.logprobs else None,
        )
    ]
    response.model = request.model
    response.created = int(time.time())
    response.usage = Usage(  # type: ignore[attr-defined]  # set as litellm's own providers do
        prompt_tokens=end.prompt_tokens,
        completion_tokens=end.completion_tokens,
        total_tokens=end.prompt_tokens + end.completion_tokens,
    )
    return response
