"""Test doubles for the LangChain integration tests: a streaming chat model with logprobs."""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

_TOKENS = re.compile(r"\n|[^\S\n]*\S+|[^\S\n]+")


def tokens_of(text: str) -> list[str]:
    """Split like a tokenizer would: words with their leading space, newlines on their own."""
    return _TOKENS.findall(text)


def logprob_entry(token: str, logprob: float = -0.05) -> dict[str, Any]:
    """An OpenAI-shaped logprobs entry with two alternatives."""
    rest = math.log(max(1e-9, (1 - math.exp(logprob)) / 2))
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [
            {"token": token, "logprob": logprob, "bytes": list(token.encode())},
            {"token": "x", "logprob": rest, "bytes": [120]},
            {"token": "y", "logprob": rest, "bytes": [121]},
        ],
    }


class ModelCrashed(RuntimeError):
    """The fake model failing mid-stream."""


@dataclass
class CallLog:
    """What one fake model call saw and emitted."""

    prompt: list[BaseMessage]
    kwargs: dict[str, Any]
    model: str = ""
    temperature: float | None = None
    emitted: list[str] = field(default_factory=list)
    finished: bool = False


class Recorder:
    """Calls made to a fake model (shared by its copies)."""

    def __init__(self) -> None:
        self.calls: list[CallLog] = []
        self.lock = threading.Lock()

    def new(self, prompt: list[BaseMessage], kwargs: dict[str, Any], model: Any = None) -> CallLog:
        log = CallLog(list(prompt), dict(kwargs))
        if model is not None:
            log.model, log.temperature = model.model_name, model.temperature
        with self.lock:
            self.calls.append(log)
        return log


Responder = Callable[[list[BaseMessage]], str]


class FakeStreamingChat(BaseChatModel):
    """Streams a scripted answer token by token with OpenAI-shaped logprobs.

    ``responses`` is a list (one per call, the last one repeated) or a callable of the prompt.
    ``fail_after`` makes the stream raise :class:`ModelCrashed` after that many tokens.
    ``logprobs_in`` picks where logprobs travel: ``generation_info`` or ``response_metadata``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responses: list[str] | Responder = Field(default_factory=lambda: ["Hello world."])
    model_name: str = "fake-small"
    temperature: float | None = None
    fail_after: int | None = None
    logprobs_in: str = "generation_info"
    token_delay_s: float = 0.0
    recorder: Recorder = Field(default_factory=Recorder)
    counter: list[int] = Field(default_factory=lambda: [0])

    @property
    def _llm_type(self) -> str:
        return "fake-streaming-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    @property
    def calls(self) -> list[CallLog]:
        return self.recorder.calls

    def _response(self, messages: list[BaseMessage]) -> str:
        if callable(self.responses):
            return self.responses(messages)
        with self.recorder.lock:
            index = self.counter[0]
            self.counter[0] += 1
        return self.responses[min(index, len(self.responses) - 1)]

    def _chunks(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Iterator[Any]:
        log = self.recorder.new(messages, kwargs, self)
        pieces = tokens_of(self._response(messages))
        for position, piece in enumerate(pieces):
            if self.fail_after is not None and position >= self.fail_after:
                raise ModelCrashed(f"model crashed after {position} tokens")
            entry = {"content": [logprob_entry(piece)]}
            last = position == len(pieces) - 1
            message = AIMessageChunk(content=piece, chunk_position="last" if last else None)
            if self.logprobs_in == "generation_info":
                chunk = ChatGenerationChunk(message=message, generation_info={"logprobs": entry})
            else:
                message.response_metadata = {"logprobs": entry}
                chunk = ChatGenerationChunk(message=message)
            log.emitted.append(piece)
            yield chunk
        log.finished = True

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        log = self.recorder.new(messages, kwargs, self)
        text = self._response(messages)
        log.emitted.extend(tokens_of(text))
        log.finished = True
        entries = [logprob_entry(piece) for piece in tokens_of(text)]
        generation = ChatGeneration(
            message=AIMessage(content=text), generation_info={"logprobs": {"content": entries}}
        )
        return ChatResult(generations=[generation])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, kwargs):
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, kwargs):
            await asyncio.sleep(self.token_delay_s)
            yield chunk


def last_human(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return str(message.content)
    return ""


def scripted_policy(
    action: dict[str, Any] | str,
    *,
    below: float = 0.5,
    stage: str = "process",
    name: str = "test",
    score_question: bool = False,
    score_outcome: bool = True,
    extra_rules: Sequence[dict[str, Any]] = (),
    default_action: dict[str, Any] | str = "continue",
    on_error: str = "fail_closed",
) -> dict[str, Any]:
    """A policy mapping: paragraph checkpoints, one rule ``stage & confidence < below``."""
    return {
        "name": name,
        "checkpoints": {
            "strategies": [{"type": "paragraph"}],
            "min_gap": 0,
            "score_question": score_question,
            "score_outcome": score_outcome,
        },
        "on_error": on_error,
        "rules": [
            *extra_rules,
            {"name": "low", "when": {"stage": stage, "confidence_below": below}, "action": action},
        ],
        "default_action": default_action,
    }


def drain(chunks: Any, into: list[Any]) -> None:
    """Collect a stream's chunks into ``into`` (kept when the stream raises)."""
    for chunk in chunks:
        into.append(chunk)


async def adrain(chunks: Any, into: list[Any]) -> None:
    """Collect an async stream's chunks into ``into`` (kept when the stream raises)."""
    async for chunk in chunks:
        into.append(chunk)
