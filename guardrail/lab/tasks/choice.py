"""Multiple-choice questions: the model ends with ``The answer is (X).``; letters are compared.

Data rows: ``{"id", "question", "choices": ["...", ...] or {"A": "...", ...}, "answer": "B"}``.
The choices are written under the question as ``A. ...`` lines.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError
from guardrail.lab.tasks.base import (
    ANSWER_PREFIX,
    Message,
    Reference,
    Shot,
    TaskItem,
    few_shot_messages,
    read_jsonl_items,
)

__all__ = ["CHOICE_SHOTS", "MultipleChoiceTask", "check_choice", "extract_choice", "format_choices"]

SYSTEM = (
    "Answer the multiple-choice question. Reason in one or two short lines, then finish with "
    f"the line '{ANSWER_PREFIX} (X).' where X is the letter of the right choice."
)

_ANSWER_IS_RE = re.compile(r"answer is\s*:?\s*\(?\s*([A-Z])\b\)?", re.IGNORECASE)
_LONE_LETTER_RE = re.compile(r"\(([A-Z])\)|\b([A-Z])\b")


def format_choices(question: str, choices: Sequence[str]) -> str:
    """The question followed by one ``A. choice`` line per choice."""
    lines = [
        f"{letter}. {text}" for letter, text in zip(string.ascii_uppercase, choices, strict=False)
    ]
    return "\n".join([question, *lines])


def extract_choice(completion: str) -> str | None:
    """The chosen letter: the last ``answer is (X)``, else the last ``(X)`` or lone capital."""
    matches = _ANSWER_IS_RE.findall(completion)
    if matches:
        return str(matches[-1]).upper()
    lone = [a or b for a, b in _LONE_LETTER_RE.findall(completion)]
    lone = [letter for letter in lone if letter != "I"]  # the pronoun, not choice I
    return lone[-1] if lone else None


def check_choice(completion: str, reference: Reference) -> bool:
    """Whether the chosen letter is the reference letter (case-insensitive)."""
    chosen = extract_choice(completion)
    references = (reference,) if isinstance(reference, str) else reference
    return chosen is not None and any(chosen == r.strip().strip("()").upper() for r in references)


CHOICE_SHOTS = (
    Shot(
        format_choices("What do people use to cut paper?", ["a spoon", "scissors", "a cup"]),
        f"Scissors have blades made for cutting paper.\n{ANSWER_PREFIX} (B).",
    ),
    Shot(
        format_choices(
            "Where would you keep milk cold?", ["in a drawer", "on the roof", "in a fridge"]
        ),
        f"A fridge keeps food cold.\n{ANSWER_PREFIX} (C).",
    ),
    Shot(
        format_choices("Which animal can fly?", ["a bird", "a fish", "a cow", "a dog"]),
        f"Birds have wings and fly.\n{ANSWER_PREFIX} (A).",
    ),
)


class MultipleChoiceTask:
    """Items from a JSONL file of multiple-choice questions (see the module docstring)."""

    name = "multiple-choice"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(self, path: str | Path, *, shots: int = 3) -> None:
        self.path = Path(path)
        self.shots = CHOICE_SHOTS[:shots]

    def items(self) -> Iterator[TaskItem]:
        """The file's rows in order; the question text includes the lettered choices."""
        return read_jsonl_items(
            self.path, task=self.name, parse=_parse, required=("question", "choices", "answer")
        )

    def prompt(self, question: str) -> list[Message]:
        """System instruction, the worked examples, then the question."""
        return few_shot_messages(SYSTEM, self.shots, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Letter comparison."""
        return check_choice(completion, reference)


def _parse(row: dict[str, Any]) -> TaskItem:
    choices = row["choices"]
    if isinstance(choices, Mapping):
        choices = [choices[key] for key in sorted(choices)]
    if not isinstance(choices, list) or not 2 <= len(choices) <= 26:
        raise GuardrailConfigError(f"item {row['id']}: choices must be a list of 2 to 26 options")
    answer = str(row["answer"]).strip().strip("()").upper()
    if len(answer) != 1 or answer not in string.ascii_uppercase[: len(choices)]:
        raise GuardrailConfigError(
            f"item {row['id']}: answer {row['answer']!r} is not a choice letter "
            f"(A to {string.ascii_uppercase[len(choices) - 1]})"
        )
    question = format_choices(str(row["question"]), [str(c) for c in choices])
    return TaskItem(str(row["id"]), question, answer, {"choices": len(choices)})
