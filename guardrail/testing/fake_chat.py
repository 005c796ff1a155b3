"""A scripted LangChain chat model that streams tokens with OpenAI-shaped logprobs.

:class:`FakeStreamingChatModel` stands in for a hosted model that returns logprobs (like
``ChatOpenAI(logprobs=True)``): each streamed chunk is one scripted token whose
``generation_info["logprobs"]`` and ``message.response_metadata["logprobs"]`` are
``{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}``. It is modelled on
langchain-core's ``GenericFakeChatModel``, which streams words without logprobs.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Literal

from guardrail._optional import require

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import BaseChatModel
    from langchain_core.language_models.chat_models import (
        agenerate_from_stream,
        generate_from_stream,
    )
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from pydantic import (
        BaseModel,
        ConfigDict,
        Field,
        PrivateAttr,
        field_validator,
        model_validator,
    )
except ImportError:
    require("langchain_core", "langchain")  # raises MissingExtraError naming the extra
    raise

__all__ = ["FakeStreamingChatModel", "ScriptedResponse", "ScriptedToolCallingChat", "split_tokens"]

_NO_PROBABILITY = -9999.0  # the logprob OpenAI reports for a probability that rounds to 0
_TOKENS = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> tuple[str, ...]:
    """Split text into word tokens that keep their leading whitespace (``"a b"`` -> a, " b")."""
    return tuple(_TOKENS.findall(text))


class ScriptedResponse(BaseModel):
    """One scripted answer: its tokens and, per token, how confident the "model" was.

    ``tokens`` is a sequence of token strings, or a text split by :func:`split_tokens`.
    Per token, either ``entropies`` (nats; the logprobs are then derived so that the top-k
    entropy of each entry, as :mod:`guardrail.entropy` computes it, equals the scripted value)
    or ``logprobs`` and/or ``top_logprobs`` (``(token, logprob)`` alternatives) as given. With
    neither, every token is certain (logprob 0). ``error_after_tokens`` makes this response
    fail after streaming that many tokens, overriding the model's setting.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens: tuple[str, ...] = Field(min_length=1)
    logprobs: tuple[float, ...] | None = None
    top_logprobs: tuple[tuple[tuple[str, float], ...], ...] | None = None
    entropies: tuple[float, ...] | None = None
    error_after_tokens: int | None = Field(default=None, ge=0)

    @field_validator("tokens", mode="before")
    @classmethod
    def _split_text(cls, value: object) -> object:
        return split_tokens(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_scripts(self) -> ScriptedResponse:
        for name in ("logprobs", "top_logprobs", "entropies"):
            script = getattr(self, name)
            if script is not None and len(script) != len(self.tokens):
                raise ValueError(f"{name} has {len(script)} values for {len(self.tokens)} tokens")
        if self.entropies is not None:
            if self.logprobs is not None or self.top_logprobs is not None:
                raise ValueError("entropies derive the logprobs: give one or the other")
            if any(not 0.0 <= h < math.inf for h in self.entropies):
                raise ValueError("entropies must be finite and >= 0")
        if self.logprobs is not None and any(lp > 0.0 for lp in self.logprobs):
            raise ValueError("logprobs must be <= 0")
        return self

    @property
    def text(self) -> str:
        """The whole answer."""
        return "".join(self.tokens)

    def logprob_entry(self, index: int, top_k: int) -> dict[str, Any]:
        """The OpenAI logprob entry of token ``index``, with ``top_k`` derived alternatives."""
        token = self.tokens[index]
        if self.entropies is not None:
            logprob, top = _entropy_alternatives(token, self.entropies[index], top_k)
        else:
            scripted = self.top_logprobs[index] if self.top_logprobs is not None else None
            if self.logprobs is not None:
                logprob = self.logprobs[index]
            else:
                logprob = next((lp for tok, lp in scripted or () if tok == token), 0.0)
            top = scripted if scripted is not None else ((token, logprob),)[:top_k]
        return {
            "token": token,
            "logprob": logprob,
            "bytes": list(token.encode("utf-8")),
            "top_logprobs": [
                {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))} for tok, lp in top
            ],
        }


class FakeStreamingChatModel(BaseChatModel):
    """A chat model that streams scripted responses token by token, with logprobs.

    Each call (``invoke``, ``stream``, ``astream``, ...) takes the next of ``responses`` (a
    :class:`ScriptedResponse`, a text or a list of tokens); once all are used it starts over
    (``when_exhausted="cycle"``) or raises :class:`LookupError` (``"error"``, the default).
    Each token is one chunk; a last chunk without text carries ``finish_reason`` ``"stop"``.

    ``error_after_tokens=n`` raises ``error`` (default: a :class:`RuntimeError`) after ``n``
    tokens of every response that does not set its own. ``delay_s`` is slept before each token
    (``asyncio.sleep`` when streaming async). Derived ``top_logprobs`` list ``top_logprobs``
    alternatives. Call options and ``stop`` are accepted and ignored. The messages of every
    call, failed ones included, are recorded in order in :attr:`calls`.
    """

    model_config = ConfigDict(populate_by_name=True)

    responses: list[ScriptedResponse] = Field(min_length=1)
    when_exhausted: Literal["cycle", "error"] = "error"
    error_after_tokens: int | None = Field(default=None, ge=0)
    error: Exception | None = None
    delay_s: float = Field(default=0.0, ge=0.0)
    top_logprobs: int = Field(default=5, ge=0, le=20)
    model_name: str = Field(default="fake-streaming-chat", alias="model")

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _served: int = PrivateAttr(default=0)

    @field_validator("responses", mode="before")
    @classmethod
    def _script_responses(cls, value: object) -> object:
        if isinstance(value, str | ScriptedResponse) or not isinstance(value, Sequence):
            return value  # let validation report it
        return [
            response if isinstance(response, ScriptedResponse | dict) else {"tokens": response}
            for response in value
        ]

    @model_validator(mode="after")
    def _check_entropies(self) -> FakeStreamingChatModel:
        highest = math.log(max(self.top_logprobs, 1) + 1)
        for response in self.responses:
            if response.entropies and max(response.entropies) > highest + 1e-12:
                raise ValueError(
                    f"an entropy of {max(response.entropies)} nats cannot be shown with "
                    f"top_logprobs={self.top_logprobs} (at most ln(k + 1) = {highest:.4f})"
                )
        return self

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The messages received by each call so far, oldest first."""
        with self._lock:
            return [list(messages) for messages in self._calls]

    @property
    def _llm_type(self) -> str:
        return "fake-streaming-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._take(messages)):
            if self.delay_s and chunk.text:
                time.sleep(self.delay_s)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._take(messages)):
            if self.delay_s and chunk.text:
                await asyncio.sleep(self.delay_s)
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

    def _take(self, messages: list[BaseMessage]) -> ScriptedResponse:
        """Record the call and hand out its response."""
        with self._lock:
            self._calls.append(list(messages))
            served, self._served = self._served, self._served + 1
        if served >= len(self.responses) and self.when_exhausted == "error":
            raise LookupError(
                f"FakeStreamingChatModel has no response left for call {served + 1}: "
                f"all {len(self.responses)} scripted responses were used"
            )
        return self.responses[served % len(self.responses)]

    def _chunks(self, response: ScriptedResponse) -> Iterator[ChatGenerationChunk]:
        fail_after = response.error_after_tokens
        if fail_after is None:
            fail_after = self.error_after_tokens
        for index, token in enumerate(response.tokens):
            if index == fail_after:
                raise self._failure(index)
            logprobs = {"content": [response.logprob_entry(index, self.top_logprobs)]}
            message = AIMessageChunk(content=token, response_metadata={"logprobs": logprobs})
            yield ChatGenerationChunk(message=message, generation_info={"logprobs": logprobs})
        if fail_after is not None and fail_after >= len(response.tokens):
            raise self._failure(len(response.tokens))
        info = {"finish_reason": "stop", "model_name": self.model_name}
        last = AIMessageChunk(content="", chunk_position="last", response_metadata=dict(info))
        yield ChatGenerationChunk(message=last, generation_info=info)

    def _failure(self, tokens: int) -> Exception:
        if self.error is not None:
            return self.error
        return RuntimeError(f"scripted failure after {tokens} tokens")


def _entropy_alternatives(
    token: str, entropy: float, top_k: int
) -> tuple[float, tuple[tuple[str, float], ...]]:
    """``token``'s logprob and ``top_k`` alternatives whose top-k entropy is ``entropy``.

    The sampled token has probability ``p`` and the other ``k = max(top_k, 1)`` buckets (listed
    alternatives, then the unlisted rest) share ``1 - p`` equally, so the entropy is
    ``-p ln p - (1 - p) ln((1 - p) / k)``, decreasing from ``ln(k + 1)`` at ``p = 1/(k + 1)``
    (the sampled token still the most likely) to 0 at ``p = 1``; ``p`` is found by bisection.
    """
    buckets = max(top_k, 1)

    def entropy_at(p: float) -> float:
        rest = 1.0 - p
        spread = -rest * math.log(rest / buckets) if rest > 0.0 else 0.0
        return -p * math.log(p) + spread

    low, high = 1.0 / (buckets + 1), 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if entropy_at(middle) > entropy:
            low = middle
        else:
            high = middle
    p = (low + high) / 2
    share = (1.0 - p) / buckets
    logprob = math.log(p)
    other = math.log(share) if share > 0.0 else _NO_PROBABILITY
    top = ((token, logprob), *((f"<alt{i}>", other) for i in range(1, top_k)))
    return logprob, top[:top_k]


class ScriptedToolCallingChat(BaseChatModel):
    """A chat model that answers from a script of messages, tool calls included.

    Each call takes the next of ``script`` (an :class:`~langchain_core.messages.AIMessage`,
    possibly with ``tool_calls``, or a text); running out raises :class:`LookupError`. It
    streams the text word by word, then the tool calls as ``tool_call_chunks`` in a last chunk,
    as a provider does. ``bind_tools`` is accepted (the tools are not checked), so
    ``langchain.agents.create_agent`` can use it. The messages and call options of every call
    are recorded in :attr:`calls` and :attr:`options`.
    """

    script: list[AIMessage] = Field(min_length=1)
    model_name: str = Field(default="fake-tool-caller", alias="model")

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    @field_validator("script", mode="before")
    @classmethod
    def _texts_are_messages(cls, value: object) -> object:
        if isinstance(value, str) or not isinstance(value, Sequence):
            return value  # let validation report it
        return [AIMessage(content=item) if isinstance(item, str) else item for item in value]

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _options: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The messages received by each call so far, oldest first."""
        with self._lock:
            return [list(messages) for messages in self._calls]

    @property
    def options(self) -> list[dict[str, Any]]:
        """The call options (``temperature``, ...) of each call so far."""
        with self._lock:
            return [dict(options) for options in self._options]

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-calling-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        """Accept the agent's tools; the script decides which are called."""
        return self.bind(**{key: value for key, value in kwargs.items() if key != "tool_choice"})

    def _take(self, messages: list[BaseMessage], options: dict[str, Any]) -> AIMessage:
        with self._lock:
            index = len(self._calls)
            self._calls.append(list(messages))
            self._options.append(dict(options))
        if index >= len(self.script):
            raise LookupError(f"{self.model_name}: the script has {len(self.script)} answers")
        return self.script[index].model_copy()

    def _message_chunks(self, message: AIMessage) -> Iterator[ChatGenerationChunk]:
        words = split_tokens(str(message.content))
        for position, word in enumerate(words):
            last = position == len(words) - 1 and not message.tool_calls
            chunk = AIMessageChunk(content=word, chunk_position="last" if last else None)
            yield ChatGenerationChunk(message=chunk)
        if message.tool_calls:
            calls = [
                {
                    "name": call["name"],
                    "args": json.dumps(call["args"]),
                    "id": call["id"],
                    "index": index,
                }
                for index, call in enumerate(message.tool_calls)
            ]
            chunk = AIMessageChunk(content="", tool_call_chunks=calls, chunk_position="last")
            yield ChatGenerationChunk(message=chunk)
        elif not words:
            yield ChatGenerationChunk(message=AIMessageChunk(content="", chunk_position="last"))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._message_chunks(self._take(messages, kwargs))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._message_chunks(self._take(messages, kwargs)):
            await asyncio.sleep(0)
            yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
