"""Reading and writing litellm's OpenAI-shaped responses: text, logprobs, frames.

``litellm.stream_chunk_builder`` rebuilds a chat response from its chunks but drops every
chunk's ``choices[0].logprobs`` (litellm 1.110 merges logprobs for text completions only), so
:func:`build_response` puts them back: the rebuilt ``choices[0].logprobs.content`` is the
concatenation of the chunks' entries, as the provider's non-streamed response would carry it.

Frames the guard adds to a stream are ``ModelResponseStream`` chunks with an empty delta and a
``guardrail`` field (a pydantic extra: it is serialised with the chunk and, through the OpenAI
client, read back as ``chunk.model_extra["guardrail"]``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import litellm
from litellm import stream_chunk_builder
from litellm.types.utils import (
    ChoiceLogprobs,
    Choices,
    Delta,
    Message,
    ModelResponse,
    ModelResponseStream,
    StreamingChoices,
)

__all__ = [
    "GUARDRAIL_FIELD",
    "build_response",
    "chunk_logprobs",
    "chunk_text",
    "frame",
    "logprob_entries",
    "question_of",
    "response_text",
    "text_chunk",
    "text_response",
]

GUARDRAIL_FIELD = "guardrail"
"""Name of the field that carries the guard's payload on frames and in ``_hidden_params``."""


def _first_choice(obj: object) -> Any:
    choices = getattr(obj, "choices", None)
    return choices[0] if choices else None


def content_text(content: object) -> str:
    """The text of message content: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def question_of(messages: Sequence[Mapping[str, Any]]) -> str:
    """The question a chat request asks: the last user message's text (else ``""``)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            text = content_text(message.get("content"))
            if text:
                return text
    return ""


def chunk_text(chunk: object) -> str:
    """The text a streamed chunk adds (``choices[0].delta.content``; ``""`` without any)."""
    choice = _first_choice(chunk)
    content = getattr(getattr(choice, "delta", None), "content", None)
    return content if isinstance(content, str) else ""


def chunk_logprobs(chunk: object) -> object | None:
    """The chunk's OpenAI-shaped logprobs (``choices[0].logprobs``), ``None`` without any."""
    logprobs = getattr(_first_choice(chunk), "logprobs", None)
    return None if logprobs is None or not logprob_entries(logprobs) else logprobs


def logprob_entries(logprobs: object) -> list[Any]:
    """The per-token entries of a ``logprobs`` object or mapping (``content``)."""
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if content is None:
        content = getattr(logprobs, "content", None)
    return list(content) if isinstance(content, Sequence) else []


def response_text(response: object) -> str:
    """The answer text of a non-streamed response (``choices[0].message.content``)."""
    message = getattr(_first_choice(response), "message", None)
    return content_text(getattr(message, "content", None))


@contextmanager
def _quiet_cost_lookup() -> Iterator[None]:
    """Keep litellm from printing its provider list while it prices the rebuilt response.

    litellm's cost lookup asks which provider serves the model name and, for one it does not
    know (a custom provider's, e.g. ``guardrail-local``), prints a banner to stdout on every
    call before giving up on the price. The banner is debug output; the flag is litellm's own
    switch for it and is put back as it was.
    """
    before = litellm.suppress_debug_info
    litellm.suppress_debug_info = True
    try:
        yield
    finally:
        litellm.suppress_debug_info = before


def build_response(
    chunks: Sequence[ModelResponseStream], messages: Sequence[Any] | None = None
) -> ModelResponse | None:
    """The response the chunks make up, with their logprobs merged (``None`` without chunks)."""
    if not chunks:
        return None
    with _quiet_cost_lookup():
        built = stream_chunk_builder(list(chunks), messages=messages)
    if not isinstance(built, ModelResponse):
        return None
    entries = [entry for chunk in chunks for entry in logprob_entries(chunk_logprobs(chunk))]
    choice = _first_choice(built)
    if entries and choice is not None:
        dumped = [e.model_dump() if hasattr(e, "model_dump") else dict(e) for e in entries]
        choice.logprobs = ChoiceLogprobs(content=dumped)
    return built


def text_response(text: str, model: str = "") -> ModelResponse:
    """A non-streamed response whose answer is ``text`` (fallback and edited answers)."""
    return ModelResponse(
        model=model or None,
        choices=[
            Choices(index=0, finish_reason="stop", message=Message(content=text, role="assistant"))
        ],
    )


def _stream_chunk(
    like: ModelResponseStream | None,
    delta: Delta,
    finish_reason: str | None,
    payload: Mapping[str, Any] | None,
) -> ModelResponseStream:
    fields: dict[str, Any] = {}
    if like is not None:
        fields.update(id=like.id, created=like.created, model=like.model)
    if payload is not None:
        fields[GUARDRAIL_FIELD] = dict(payload)
    choice = StreamingChoices(index=0, delta=delta, finish_reason=finish_reason)
    return ModelResponseStream(choices=[choice], **fields)


def text_chunk(
    text: str, like: ModelResponseStream | None, finish_reason: str | None = "stop"
) -> ModelResponseStream:
    """``text`` as one chunk of the stream ``like`` belongs to."""
    return _stream_chunk(like, Delta(content=text, role="assistant"), finish_reason, None)


def frame(
    kind: str,
    payload: Mapping[str, Any],
    like: ModelResponseStream | None,
    finish_reason: str | None = None,
) -> ModelResponseStream:
    """A guard frame: an empty delta with ``guardrail={"marker": kind, **payload}``."""
    return _stream_chunk(like, Delta(content=""), finish_reason, {"marker": kind, **payload})
