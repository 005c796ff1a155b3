"""Unit conversion (``unit-conversion``): one multiplication or division by a known factor.

Difficulty 1 converts to a smaller metric unit (factor 10, 100 or 1000); difficulty 2 uses time
units (60, 24, 7) or converts back to the larger unit (a division that comes out whole). Every
item is generated from ``(seed, difficulty, index)``; answers are whole numbers. Endless; use
another seed for held-out questions.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from guardrail.errors import GuardrailConfigError
from guardrail.lab.tasks.base import ANSWER_PREFIX, Message, Reference, Shot, TaskItem
from guardrail.lab.tasks.base import few_shot_messages as _few_shot
from guardrail.lab.tasks.numeric import check_numeric

__all__ = ["MAX_UNIT_DIFFICULTY", "UnitConversionTask", "unit_question"]

MAX_UNIT_DIFFICULTY = 2

SYSTEM = (
    "Convert the quantity. Write the conversion factor and the calculation on one line, then "
    f"finish with the line '{ANSWER_PREFIX} N.'"
)

_Factor = tuple[str, str, int]
_METRIC: tuple[_Factor, ...] = (
    ("metres", "centimetres", 100),
    ("kilometres", "metres", 1000),
    ("kilograms", "grams", 1000),
    ("litres", "millilitres", 1000),
    ("centimetres", "millimetres", 10),
)
_TIME: tuple[_Factor, ...] = (
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("days", "hours", 24),
    ("weeks", "days", 7),
)


@dataclass(frozen=True, slots=True)
class _Conversion:
    question: str
    solution: str
    answer: int


def unit_question(seed: int, difficulty: int, index: int, *, namespace: str = "q") -> _Conversion:
    """The conversion ``index`` of ``difficulty`` for ``seed`` (pure: same inputs, same text)."""
    if not 1 <= difficulty <= MAX_UNIT_DIFFICULTY:
        raise GuardrailConfigError(
            f"unit-conversion difficulty must be between 1 and {MAX_UNIT_DIFFICULTY}, "
            f"got {difficulty}"
        )
    rng = random.Random(f"units:{namespace}:{seed}:{difficulty}:{index}")
    value = rng.randint(2, 12)
    if difficulty == 1:
        big, small, factor = rng.choice(_METRIC)
        question = f"How many {small} are in {value} {big}?"
        step = f"1 {big[:-1]} is {factor} {small}, so {value} * {factor} = {value * factor}."
        return _Conversion(question, f"{step}\n{ANSWER_PREFIX} {value * factor}.", value * factor)
    big, small, factor = rng.choice((*_TIME, *_METRIC))
    if rng.random() < 0.5:
        question = f"How many {small} are in {value} {big}?"
        step = f"1 {big[:-1]} is {factor} {small}, so {value} * {factor} = {value * factor}."
        return _Conversion(question, f"{step}\n{ANSWER_PREFIX} {value * factor}.", value * factor)
    total = value * factor
    question = f"How many {big} are {total} {small}?"
    step = f"1 {big[:-1]} is {factor} {small}, so {total} / {factor} = {value}."
    return _Conversion(question, f"{step}\n{ANSWER_PREFIX} {value}.", value)


class UnitConversionTask:
    """Seeded conversions; ``difficulties`` are interleaved in ``items()`` (endless)."""

    name = "unit-conversion"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(self, difficulties: Sequence[int] = (1, 2), *, seed: int = 0) -> None:
        if not difficulties:
            raise GuardrailConfigError("unit-conversion needs at least one difficulty")
        for difficulty in difficulties:
            unit_question(seed, difficulty, 0)  # validates the range
        self.difficulties = tuple(difficulties)
        self.seed = seed
        self.shots = tuple(
            Shot(c.question, c.solution)
            for c in (unit_question(0, 1 + i % 2, i, namespace="shot") for i in range(3))
        )

    def items(self) -> Iterator[TaskItem]:
        """Endless items, cycling through the difficulties."""
        index = 0
        while True:
            for difficulty in self.difficulties:
                c = unit_question(self.seed, difficulty, index)
                yield TaskItem(
                    id=f"units-d{difficulty}-s{self.seed}-{index}",
                    question=c.question,
                    reference=str(c.answer),
                    metadata={"difficulty": difficulty, "solution": c.solution},
                )
            index += 1

    def prompt(self, question: str) -> list[Message]:
        """System instruction, the worked examples, then the question."""
        return _few_shot(SYSTEM, self.shots, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Numeric comparison of the final answer."""
        return check_numeric(completion, reference)
