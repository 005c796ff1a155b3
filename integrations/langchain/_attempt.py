"""One guarded call's state and one attempt's plumbing: config, input, report, events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    message_chunk_to_message,
)
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import patch_config

from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.runtime import AttemptPlan, AttemptReport, GuardLoop

from ._text import QUESTION_KEYS, output_text
from .handler import GuardrailCallbackHandler

if TYPE_CHECKING:
    from guardrail.audit.sink import AuditSink

__all__ = [
    "CallState",
    "EventBuffer",
    "OutputShape",
    "Reask",
    "accumulate",
    "attempt_config",
    "build_report",
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
class OutputShape:
    """What the call's outputs look like: messages or not, and a sample streamed chunk."""

    message: bool = False
    sample: Any = None  # a chunk (or chunk class) that markers and replacement chunks imitate

    def from_text(self, text: str) -> Any:
        """``text`` as an output of this shape (an ``AIMessage`` for chat outputs)."""
        return AIMessage(content=text) if self.message else text

    def saw(self, chunk: Any) -> None:
        """Remember the first streamed chunk as the sample."""
        if self.sample is None:
            self.sample = chunk


@dataclass(slots=True)
class CallState:
    """One guarded call: its input, question, base config, loop, events and output shape."""

    input: Any
    question: str
    config: RunnableConfig
    loop: GuardLoop
    events: EventBuffer
    shape: OutputShape
    audit: AuditSink | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


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


def build_report(
    call: CallState,
    handler: GuardrailCallbackHandler,
    output: Any,
    signal: GuardSignal | None,
    started: float,
) -> AttemptReport:
    """What the attempt did, from the handler's runs and the merged output."""
    runs = handler.all_runs()
    if isinstance(output, BaseMessage):
        call.shape.message = True
    main = next((run for run in reversed(runs) if run.watch.answer), runs[-1] if runs else None)
    if not call.loop.question and main is not None:
        call.loop.question = main.watch.question
    if signal is not None:
        answer = signal.partial_answer
        events = tuple(signal.events)
    else:
        text = output_text(output)
        answer = text if text is not None else ("" if main is None else main.watch.answer)
        events = () if main is None else main.watch.events
    pending = next(
        (run.watch.pending_review for run in runs if run.watch.pending_review is not None), None
    )
    return AttemptReport(
        answer=answer,
        output=None if signal is not None else output,
        events=events,
        decisions=tuple(d for run in runs for d in run.watch.decisions),
        flags=tuple(f for run in runs for f in run.watch.flags),
        signal=signal,
        pending_review=pending,
        duration_s=time.monotonic() - started,
    )
