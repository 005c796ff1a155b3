"""GSM8K-style math word problems read from JSONL (``question`` and ``answer`` fields).

The worked examples are written for this project in GSM8K's style (one calculation per line);
the final line is ``The answer is N.``, and the checker also accepts GSM8K's ``#### N``.
"""

from __future__ import annotations

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
from guardrail.lab.tasks.numeric import check_numeric

__all__ = ["GSM8K_SHOTS", "GSM8KTask"]

SYSTEM = (
    "You solve math word problems. Write one short calculation per line, then finish with the "
    f"line '{ANSWER_PREFIX} N.'"
)

GSM8K_SHOTS = (
    Shot(
        "A baker makes 24 muffins. She sells 15 of them and gives 4 to her neighbour. "
        "How many muffins does she have left?",
        f"She gives away 15 + 4 = 19 muffins.\n24 - 19 = 5 muffins are left.\n{ANSWER_PREFIX} 5.",
    ),
    Shot(
        "A box holds 6 pencils. Tim buys 7 boxes and loses 5 pencils. "
        "How many pencils does he have?",
        f"Tim buys 7 * 6 = 42 pencils.\nAfter losing 5 he has 42 - 5 = 37.\n{ANSWER_PREFIX} 37.",
    ),
    Shot(
        "Mia earns $12 an hour. She works 3 hours on Monday and 5 hours on Tuesday. "
        "How much does she earn?",
        f"She works 3 + 5 = 8 hours.\nShe earns 8 * 12 = $96.\n{ANSWER_PREFIX} 96.",
    ),
    Shot(
        "A class of 30 students splits into teams of 5. Each team gets 2 balls. "
        "How many balls are needed?",
        f"There are 30 / 5 = 6 teams.\nThey need 6 * 2 = 12 balls.\n{ANSWER_PREFIX} 12.",
    ),
)


class GSM8KTask:
    """Items from a GSM8K JSONL file (fields ``id``, ``question``, ``answer``)."""

    name = "gsm8k"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(self, path: str | Path, *, shots: int = 4) -> None:
        self.path = Path(path)
        self.shots = GSM8K_SHOTS[:shots]

    def items(self) -> Iterator[TaskItem]:
        """The file's rows in order; ``answer`` is the reference number."""
        return read_jsonl_items(
            self.path, task=self.name, parse=_parse, required=("question", "answer")
        )

    def prompt(self, question: str) -> list[Message]:
        """System instruction, the worked examples, then the question."""
        return few_shot_messages(SYSTEM, self.shots, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Numeric comparison of the final answer (``####``, ``answer is``, last number)."""
        return check_numeric(completion, reference)


def _parse(row: dict[str, Any]) -> TaskItem:
    metadata = {k: v for k, v in row.items() if k not in ("id", "question", "answer")}
    return TaskItem(str(row["id"]), str(row["question"]), str(row["answer"]), metadata)
