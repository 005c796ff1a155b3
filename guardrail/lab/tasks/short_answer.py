"""Short-answer questions with aliases: normalised exact match against any accepted answer.

Data rows: ``{"id", "question", "answer": "Paris", "aliases": ["City of Paris", ...]}``
(``aliases`` optional). The final answer is the text after the last ``The answer is`` (else the
last non-empty line); normalisation lower-cases, drops punctuation, articles and extra spaces.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from guardrail.lab.tasks.base import (
    ANSWER_PREFIX,
    Message,
    Reference,
    Shot,
    TaskItem,
    few_shot_messages,
    read_jsonl_items,
)

__all__ = [
    "SHORT_ANSWER_SHOTS",
    "ShortAnswerTask",
    "check_short_answer",
    "extract_short_answer",
    "normalize_answer",
]

SYSTEM = (
    "Answer the question. Reason in one or two short lines, then finish with the line "
    f"'{ANSWER_PREFIX} X.' where X is a short answer."
)

_ANSWER_IS_RE = re.compile(r"answer is\s*:?\s*(.+)", re.IGNORECASE)
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles (a, an, the), single spaces."""
    text = _ARTICLES_RE.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def extract_short_answer(completion: str) -> str:
    """The text after the last ``answer is`` on its line, else the last non-empty line."""
    matches = _ANSWER_IS_RE.findall(completion)
    if matches:
        return str(matches[-1]).strip()
    lines = [line.strip() for line in completion.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check_short_answer(completion: str, reference: Reference) -> bool:
    """Whether the normalised final answer equals one normalised accepted answer."""
    answer = normalize_answer(extract_short_answer(completion))
    references = (reference,) if isinstance(reference, str) else reference
    return bool(answer) and any(answer == normalize_answer(ref) for ref in references)


SHORT_ANSWER_SHOTS = (
    Shot(
        "What is the capital of France?", f"France's capital city is Paris.\n{ANSWER_PREFIX} Paris."
    ),
    Shot(
        "How many legs does a spider have?",
        f"Spiders are arachnids, which have eight legs.\n{ANSWER_PREFIX} 8.",
    ),
    Shot(
        "What colour do you get by mixing blue and yellow?",
        f"Blue and yellow paint mix to green.\n{ANSWER_PREFIX} green.",
    ),
)


class ShortAnswerTask:
    """Items from a JSONL file of short-answer questions (see the module docstring)."""

    name = "short-answer"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(self, path: str | Path, *, shots: int = 3) -> None:
        self.path = Path(path)
        self.shots = SHORT_ANSWER_SHOTS[:shots]

    def items(self) -> Iterator[TaskItem]:
        """The file's rows in order; the reference holds the answer and every alias."""
        return read_jsonl_items(
            self.path, task=self.name, parse=_parse, required=("question", "answer")
        )

    def prompt(self, question: str) -> list[Message]:
        """System instruction, the worked examples, then the question."""
        return few_shot_messages(SYSTEM, self.shots, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Normalised exact match against the answer or any alias."""
        return check_short_answer(completion, reference)


def _parse(row: dict[str, Any]) -> TaskItem:
    aliases = row.get("aliases") or []
    accepted = tuple(dict.fromkeys([str(row["answer"]), *(str(a) for a in aliases)]))
    return TaskItem(str(row["id"]), str(row["question"]), accepted)
