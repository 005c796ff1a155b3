"""``ChatLocalModel``: a LangChain chat model over a local causal LM, with per-token logprobs.

It streams real tokens from :class:`guardrail.generation.LocalGenerator` (the embedded
SmolLM2-135M-Instruct by default, loaded lazily and shared through ``load_model``'s cache), and
every chunk carries the logprobs of its tokens in OpenAI's shape, ``{"content": [{"token",
"logprob", "bytes", "top_logprobs"}, ...]}``, in both ``generation_info["logprobs"]`` and
``message.response_metadata["logprobs"]``, as ``ChatOpenAI(logprobs=True)`` does. The guard
therefore reads the embedded model exactly as it reads a hosted one, offline.

Why not langchain-huggingface (``ChatHuggingFace`` over ``HuggingFacePipeline``, read at 1.2.2):
its local pipeline streams text only, through transformers' ``TextIteratorStreamer``, so there
are no per-token logprobs; it turns ``stop`` strings into single token ids; its async paths work
only against remote endpoints (``_agenerate`` raises ``NotImplementedError`` for a pipeline);
it loads models by hub id instead of through ``load_model``; and it pins ``huggingface-hub<2``.

Chunking contract: a chunk is sent whenever answer text can be released, and carries the
logprobs of every token generated since the previous chunk (usually one). Text that may be the
start of a stop string is held back until it is known not to be; a stop string ends the answer
without being sent, and the tokens after the last sent text are dropped with their logprobs. The
last chunk has no text: it carries ``finish_reason`` (``"stop"`` or ``"length"``),
``model_name`` and the token usage.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from typing import Any

from guardrail._optional import require
from guardrail.generation import PLAIN_QUESTION, LocalGenerator, PromptTooLongError, render_chat
from guardrail.streamtools import TextPiece, TextRelease, iterate_in_thread

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.exceptions import ContextOverflowError
    from langchain_core.language_models import BaseChatModel, LangSmithParams
    from langchain_core.language_models.chat_models import (
        agenerate_from_stream,
        generate_from_stream,
    )
    from langchain_core.messages import (
        AIMessage,
        AIMessageChunk,
        BaseMessage,
        ChatMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
    )
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from pydantic import ConfigDict, Field, PrivateAttr, model_validator
except ImportError:
    require("langchain_core", "langchain")  # raises MissingExtraError naming the extra
    raise

__all__ = ["DEFAULT_MODEL_REF", "ChatLocalModel"]

DEFAULT_MODEL_REF = "builtin:smollm2-135m-instruct"

_CALL_OPTIONS = ("max_tokens", "model", "seed", "temperature", "top_logprobs", "top_p")


class ChatLocalModel(BaseChatModel):
    """A chat model that runs a local transformers causal LM and streams per-token logprobs.

    ``ChatLocalModel()`` uses the embedded model; ``ChatLocalModel(model="<ref>")`` any model
    reference :func:`guardrail.models.load_model` accepts; ``ChatLocalModel(generator=g)`` an
    existing :class:`~guardrail.generation.LocalGenerator` (``model_name`` is then ``g.name``
    unless given). The model is loaded on first use, not at construction.

    ``temperature`` 0 is greedy decoding. ``temperature``, ``top_p``, ``max_tokens``,
    ``top_logprobs``, ``seed`` and ``model`` (another model reference, loaded on first use) can
    be overridden per call (``invoke(..., temperature=0.7)`` or ``bind``); ``stop`` given to a
    call replaces the instance's. Any other call option raises :class:`TypeError`. Logprobs
    are always returned.

    The prompt is bounded by the model's context window: a prompt that fills it raises
    LangChain's ``ContextOverflowError`` (naming the token counts) before the model runs, and
    an answer stops where the window ends (``finish_reason="length"``).
    """

    model_config = ConfigDict(populate_by_name=True)

    model_name: str = Field(default=DEFAULT_MODEL_REF, alias="model")
    """Model reference, loaded with ``load_model`` unless ``generator`` is given."""
    generator: LocalGenerator | None = Field(default=None, exclude=True)
    """An already loaded generator to use instead of loading ``model_name``."""
    device: str = "auto"
    """Where to load ``model_name`` (``"auto"``, ``"cpu"``, ``"cuda"``, ...)."""
    dtype: str = "auto"
    """The dtype to load ``model_name`` in."""
    temperature: float = Field(default=0.0, ge=0.0)
    """Sampling temperature; 0 is greedy."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass (with ``temperature > 0``)."""
    max_tokens: int = Field(default=256, ge=1)
    """The most tokens to generate."""
    top_logprobs: int = Field(default=5, ge=0, le=20)
    """How many most likely alternatives each token's logprob entry lists."""
    seed: int | None = None
    """Seed of the sampler, for reproducible sampling."""
    stop: list[str] | None = None
    """Stop strings: generation ends before the first of them, which is not returned."""

    _loaded: LocalGenerator | None = PrivateAttr(default=None)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _name_after_generator(self) -> ChatLocalModel:
        if self.generator is not None and "model_name" not in self.model_fields_set:
            self.model_name = self.generator.name
        return self

    @property
    def _llm_type(self) -> str:
        return "guardrail-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "top_logprobs": self.top_logprobs,
            "seed": self.seed,
            "stop": self.stop,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "guardrail-local"
        params["ls_model_name"] = str(kwargs.get("model") or self.model_name)
        return params

    def load(self, model: str | None = None) -> LocalGenerator:
        """The generator, loading ``model_name`` on first use (shared by every instance).

        ``model`` names another reference (a per-call override), loaded through the same cache.
        """
        if model is not None and model != self.model_name:
            return LocalGenerator.from_ref(model, device=self.device, dtype=self.dtype)
        if self.generator is not None:
            return self.generator
        with self._load_lock:
            if self._loaded is None:
                self._loaded = LocalGenerator.from_ref(
                    self.model_name, device=self.device, dtype=self.dtype
                )
            return self._loaded

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        options = self._call_options(stop, kwargs)
        model_name = str(options["model"] or self.model_name)
        generator = self.load(model_name)
        chat = _chat_messages(messages)
        # a base model (Gemma 3 270M) is given few-shot text, and stops before it writes the
        # next "Question:" of the pattern; a chat model gets its template
        plain = generator.prompt_format == "plain"
        prompt = generator.render(chat) if plain else render_chat(generator.tokenizer, chat)
        if plain:
            options["stop"] = (*options["stop"], f"\n{PLAIN_QUESTION}")
        prompt_tokens = len(generator.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        try:
            room = generator.room(prompt_tokens, options["max_tokens"])
        except PromptTooLongError as exc:
            raise ContextOverflowError(str(exc)) from exc
        release = TextRelease(options["stop"])
        steps = generator.stream(
            prompt,
            max_new_tokens=room,
            temperature=options["temperature"],
            top_p=options["top_p"],
            top_logprobs=options["top_logprobs"],
            stop=options["stop"],
            seed=options["seed"],
        )
        for step in steps:
            if (piece := release.push(step)) is not None:
                yield _chunk(piece)
            if release.stopped:
                break
        if (piece := release.flush()) is not None:
            yield _chunk(piece)
        length = release.tokens >= room and not release.stopped
        finish_reason = "length" if length else "stop"
        info = {"finish_reason": finish_reason, "model_name": model_name}
        last = AIMessageChunk(
            content="",
            chunk_position="last",
            response_metadata=dict(info),
            usage_metadata={
                "input_tokens": prompt_tokens,
                "output_tokens": release.tokens,
                "total_tokens": prompt_tokens + release.tokens,
            },
        )
        yield ChatGenerationChunk(message=last, generation_info=info)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # Loading, the prompt and every token are computed in a worker thread, one step per
        # chunk asked for, so the event loop never waits on the model.
        async with aclosing(iterate_in_thread(self._stream(messages, stop, **kwargs))) as it:
            async for chunk in it:
                yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, **kwargs))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await agenerate_from_stream(self._astream(messages, stop, **kwargs))

    def _call_options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - set(_CALL_OPTIONS))
        if unknown:
            raise TypeError(
                f"ChatLocalModel does not support the call options {unknown}; "
                f"supported: {', '.join(('stop', *_CALL_OPTIONS))}"
            )
        options = {name: kwargs.get(name, getattr(self, name, None)) for name in _CALL_OPTIONS}
        chosen = stop if stop is not None else self.stop
        options["stop"] = tuple(chosen or ())
        return options


def _chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the ``{"role", "content"}`` dicts a chat template expects."""
    chat = []
    for message in messages:
        match message:
            case ChatMessage():
                role = message.role
            case HumanMessage():
                role = "user"
            case AIMessage():
                role = "assistant"
            case SystemMessage():
                role = "system"
            case ToolMessage():
                role = "tool"
            case _:
                raise TypeError(f"ChatLocalModel cannot render a {type(message).__name__}")
        chat.append({"role": role, "content": str(message.text)})
    return chat


def _chunk(piece: TextPiece) -> ChatGenerationChunk:
    logprobs = {"content": piece.logprobs}
    message = AIMessageChunk(content=piece.text, response_metadata={"logprobs": logprobs})
    return ChatGenerationChunk(message=message, generation_info={"logprobs": logprobs})
