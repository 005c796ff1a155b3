"""Reading text, questions and logprobs out of LangChain messages, chunks and inputs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk, HumanMessage, get_buffer_string
from langchain_core.prompt_values import PromptValue

__all__ = [
    "QUESTION_KEYS",
    "chunk_logprobs",
    "content_text",
    "is_last_chunk",
    "output_text",
    "question_from_input",
    "question_from_messages",
    "split_tokens",
]

QUESTION_KEYS = ("question", "input", "query", "prompt")
"""Keys a dict input is searched for (in this order) to find the question."""

_TOKENS = re.compile(r"\n|[^\S\n]*\S+|[^\S\n]+")


def content_text(content: object) -> str:
    """The text of message content: a string, or the text blocks of a content-block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str):
                    parts.append(text)
        return "".join(parts)
    return ""


def chunk_logprobs(chunk: object) -> object | None:
    """OpenAI-shaped logprobs of a streamed chunk, from ``generation_info`` or response metadata."""
    if chunk is None:
        return None
    info = getattr(chunk, "generation_info", None)
    if isinstance(info, Mapping) and info.get("logprobs") is not None:
        found: object = info["logprobs"]
        return found
    message = getattr(chunk, "message", None)
    metadata = getattr(message, "response_metadata", None)
    if isinstance(metadata, Mapping):
        return metadata.get("logprobs")
    return None


def is_last_chunk(chunk: object) -> bool:
    """True for the chunk LangChain marks as the last of a message (``chunk_position='last'``)."""
    message = getattr(chunk, "message", None)
    return isinstance(message, BaseMessageChunk) and getattr(message, "chunk_position", None) == (
        "last"
    )


def question_from_messages(messages: Sequence[BaseMessage]) -> str:
    """The question in a chat prompt: the last human message's text, else the whole transcript."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            text = content_text(message.content)
            if text:
                return text
    return get_buffer_string(list(messages))


def question_from_input(value: object) -> str | None:
    """The question in a runnable's input (a string, messages, a prompt value, a dict)."""
    if isinstance(value, str):
        return value
    if isinstance(value, PromptValue):
        return question_from_messages(value.to_messages())
    if isinstance(value, BaseMessage):
        return content_text(value.content)
    if isinstance(value, Mapping):
        for key in QUESTION_KEYS:
            found = value.get(key)
            if isinstance(found, str) and found:
                return found
        messages = value.get("messages")
        if messages is not None:
            return question_from_input(messages)
        return None
    if isinstance(value, Sequence) and value and all(isinstance(m, BaseMessage) for m in value):
        return question_from_messages(list(value))
    return None


def output_text(output: Any) -> str | None:
    """The answer text of a runnable's output (a message, a string, a dict with one)."""
    if isinstance(output, str):
        return output
    if isinstance(output, BaseMessage):
        return content_text(output.content)
    if isinstance(output, Mapping):
        for key in ("output", "answer", "text", "content"):
            value = output.get(key)
            if isinstance(value, str):
                return value
        messages = output.get("messages")
        if isinstance(messages, Sequence) and messages and isinstance(messages[-1], BaseMessage):
            return content_text(messages[-1].content)
    return None


def split_tokens(text: str) -> list[str]:
    """Word-like pieces (leading spaces kept, newlines apart) for scoring a non-streamed answer."""
    return _TOKENS.findall(text)
