"""What a task is: items with reference answers, a few-shot prompt, and an answer checker."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from guardrail.errors import GuardrailConfigError

__all__ = [
    "ANSWER_PREFIX",
    "Message",
    "Reference",
    "Shot",
    "Task",
    "TaskItem",
    "few_shot_messages",
    "read_jsonl_items",
]

Reference = str | tuple[str, ...]
"""A reference answer: one string, or every accepted alias (short answers)."""

Message = dict[str, str]
"""One chat message, ``{"role": ..., "content": ...}``."""

ANSWER_PREFIX = "The answer is"
"""How every built-in prompt asks the model to state its final answer."""


@dataclass(frozen=True, slots=True)
class TaskItem:
    """One question with its reference answer; ``id`` is stable across runs."""

    id: str
    question: str
    reference: Reference
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Shot:
    """A worked example of the few-shot prompt: a question and its step-by-step answer."""

    question: str
    answer: str


@runtime_checkable
class Task(Protocol):
    """A source of questions, the prompt that asks them, and the checker of final answers.

    ``stop`` lists strings at which a generator may stop (the prompt's next-question marker).
    """

    name: str
    stop: tuple[str, ...]

    def items(self) -> Iterator[TaskItem]:
        """Every item, in a fixed order (possibly endless: callers slice)."""
        ...

    def prompt(self, question: str) -> list[Message]:
        """The chat messages that ask ``question`` (few-shot, chain of thought)."""
        ...

    def check(self, completion: str, reference: Reference) -> bool:
        """Whether the final answer stated in ``completion`` matches ``reference``."""
        ...


def few_shot_messages(system: str, shots: Sequence[Shot], question: str) -> list[Message]:
    """A system message, one user/assistant turn per shot, then the question as a user turn.

    Every question of a task shares the system message and the shots, so the rendered prompts
    share a long token prefix whose KV cache a batched generator computes once.
    """
    messages: list[Message] = [{"role": "system", "content": system}]
    for shot in shots:
        messages.append({"role": "user", "content": f"Question: {shot.question}"})
        messages.append({"role": "assistant", "content": shot.answer})
    messages.append({"role": "user", "content": f"Question: {question}"})
    return messages


def read_jsonl_items(
    path: str | Path, *, task: str, parse: Any, required: Sequence[str]
) -> Iterator[TaskItem]:
    """Read ``path`` (one JSON object per line) and turn each row into an item with ``parse``.

    A missing file or a row without one of the ``required`` fields is a
    :class:`GuardrailConfigError` naming the file and line.
    """
    source = Path(path)
    if not source.is_file():
        raise GuardrailConfigError(f"task {task}: data file not found: {source}")
    with source.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GuardrailConfigError(f"{source}:{number}: not JSON: {exc.msg}") from None
            if not isinstance(row, dict) or any(key not in row for key in required):
                raise GuardrailConfigError(
                    f"{source}:{number}: task {task} needs fields {', '.join(required)}"
                )
            row.setdefault("id", f"{source.stem}-{number}")
            try:
                item = parse(row)
            except (GuardrailConfigError, TypeError, ValueError, KeyError) as exc:
                raise GuardrailConfigError(f"{source}:{number}: {_reason(exc)}") from None
            yield item


def _reason(exc: Exception) -> str:
    if isinstance(exc, GuardrailConfigError):
        return "; ".join(issue.message for issue in exc.issues)
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"
