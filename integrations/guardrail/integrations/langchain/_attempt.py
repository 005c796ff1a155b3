"""One guarded call's state and one attempt's plumbing: config, input, output, events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.messages import (
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    message_chunk_to_message,
)
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import patch_config, var_child_runnable_config

from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.runtime import AnswerWatch, AttemptOutput, AttemptPlan

from ._text import QUESTION_KEYS, output_text
from .handler import GuardrailCallbackHandler
from .streaming import OutputShape

if TYPE_CHECKING:
    from guardrail.audit.sink import AuditSink

__all__ = [
    "CallState",
    "EventBuffer",
    "HandlerWatcher",
    "Reask",
    "accumulate",
    "attempt_config",
    "child_config",
    "default_reask",
    "finalize",
    "with_handler",
]

Reask = Callable[[Any, str], Any]
"""``(original input, feedback prompt) -> input`` for a self-correction attempt."""

EVENT_PREFIX = "guardrail_"


class EventBuffer:
    """Collects ``(kind, payload)`` from the handler's and loop's threads until dispatched."""

    def __init__(self) -> None:
        self._items: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def push(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Queue one event."""
        with self._lock:
            self._items.append((EVENT_PREFIX + kind, dict(payload)))

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        """Take every queued event."""
        with self._lock:
            items, self._items = self._items, []
        return items


@dataclass(slots=True)
class CallState:
    """One guarded call's LangChain side: its input, question, base config, events, shape."""

    input: Any
    question: str
    config: RunnableConfig
    events: EventBuffer
    shape: OutputShape
    audit: AuditSink | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def output(self, chunks: Sequence[Any]) -> AttemptOutput:
        """An attempt's output: its merged stream (message chunks become a message)."""
        total: Any = None
        for chunk in chunks:
            self.shape.saw(chunk)
            total = accumulate(total, chunk)
        output = finalize(total)
        if isinstance(output, BaseMessage):
            self.shape.message = True
        return AttemptOutput(output, text=output_text(output))


class HandlerWatcher:
    """A :class:`~guardrail.runtime.Watcher` whose watches a callback handler feeds.

    LangChain calls the handler for every token of every model run, so the runtime feeds
    nothing itself (``feeds`` is false); the handler's signals are the attempt's own.
    """

    feeds = False

    def __init__(self, handler: GuardrailCallbackHandler) -> None:
        self.handler = handler

    def watches(self) -> Sequence[AnswerWatch]:
        """The watches of the handler's runs."""
        return self.handler.watches()

    def raised(self, error: GuardSignal) -> bool:
        """True for a signal one of the handler's watches raised."""
        return self.handler.raised(error)

    def abandon(self, error: BaseException) -> None:
        """Nothing to release: LangChain ends the runs (``on_llm_error``)."""

    def start(self) -> None:
        """Not called (``feeds`` is false)."""

    def feed(self, chunk: object) -> None:
        """Not called (``feeds`` is false)."""

    def end(self) -> None:
        """Not called (``feeds`` is false)."""


@contextmanager
def child_config(config: RunnableConfig) -> Iterator[None]:
    """Make ``config`` the one a nested call inherits (its callbacks and metadata)."""
    token = var_child_runnable_config.set(config)
    try:
        yield
    finally:
        var_child_runnable_config.reset(token)


def with_handler(callbacks: Any, handler: BaseCallbackHandler) -> Any:
    """``callbacks`` (a list, a manager or ``None``) with ``handler`` appended, inheritable."""
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
        return manager
    return [*callbacks, handler]


def attempt_config(
    call: CallState, plan: AttemptPlan, handler: GuardrailCallbackHandler
) -> RunnableConfig:
    """The config of one attempt: the call's, plus the handler and the guard's run metadata."""
    config = patch_config(
        call.config, callbacks=with_handler(call.config.get("callbacks"), handler)
    )
    metadata: dict[str, Any] = {
        **(config.get("metadata") or {}),
        "guardrail_attempt": plan.attempt,
        "guardrail_attempt_kind": plan.kind,
    }
    if plan.model:
        metadata["guardrail_model"] = plan.model
    if call.question:
        metadata["guardrail_question"] = call.question
    config["metadata"] = metadata
    return config


def default_reask(value: Any, feedback: str) -> Any:
    """Re-ask with ``feedback``: appended as a human message, or replacing a string question."""
    if isinstance(value, str):
        return feedback
    if isinstance(value, PromptValue):
        return [*value.to_messages(), HumanMessage(feedback)]
    if isinstance(value, BaseMessage):
        return [value, HumanMessage(feedback)]
    if isinstance(value, Mapping):
        messages = value.get("messages")
        if isinstance(messages, Sequence) and not isinstance(messages, str):
            return {**value, "messages": [*messages, HumanMessage(feedback)]}
        for key in QUESTION_KEYS:
            if isinstance(value.get(key), str):
                return {**value, key: feedback}
    elif isinstance(value, Sequence):
        return [*value, HumanMessage(feedback)]
    raise GuardrailConfigError(
        f"cannot re-ask a {type(value).__name__} input with self-correction feedback: "
        "pass reask= (input, feedback) -> input"
    )


def accumulate(total: Any, chunk: Any) -> Any:
    """Add ``chunk`` to ``total`` the way LangChain merges streams (else keep the last)."""
    if total is None:
        return chunk
    try:
        return total + chunk
    except TypeError:
        return chunk


def finalize(total: Any) -> Any:
    """A merged stream as an output: message chunks become messages."""
    if isinstance(total, BaseMessageChunk):
        return message_chunk_to_message(total)
    return total
