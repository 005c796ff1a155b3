"""Reading a value out of a small table given in the question (``table-lookup``).

Every item is generated from ``(seed, difficulty, index)``: a table of ``2 + 2 * difficulty``
items with a colour, a price and a weight, then one question that asks for a cell (the colour,
price or weight of an item) or, from difficulty 2 on, for the item that has a given colour.
Nothing needs computing: the skill is finding the row and the column. Endless; use another seed
for held-out questions.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from guardrail.errors import GuardrailConfigError
from guardrail.lab.tasks.base import ANSWER_PREFIX, Message, Reference, Shot, TaskItem
from guardrail.lab.tasks.base import few_shot_messages as _few_shot
from guardrail.lab.tasks.short_answer import check_short_answer

__all__ = ["MAX_TABLE_DIFFICULTY", "TableLookupTask", "table_question"]

MAX_TABLE_DIFFICULTY = 3

SYSTEM = (
    "Answer the question using the table. Say in one short line where the answer is, then "
    f"finish with the line '{ANSWER_PREFIX} X.'"
)

_ITEMS = (
    "lamp", "chair", "kettle", "basket", "clock", "mirror", "vase", "blanket", "teapot",
    "backpack", "umbrella", "candle", "helmet", "scarf", "wallet", "bucket",
)  # fmt: skip
_COLOURS = ("red", "blue", "green", "yellow", "black", "white", "purple", "orange", "grey", "pink")


@dataclass(frozen=True, slots=True)
class _Question:
    question: str
    solution: str
    answers: tuple[str, ...]
    kind: str


def _render(rows: Sequence[tuple[str, str, int, int]]) -> str:
    lines = ["| item | colour | price | weight |", "|---|---|---|---|"]
    lines += [f"| {n} | {c} | {p} dollars | {w} kg |" for n, c, p, w in rows]
    return "\n".join(lines)


def table_question(seed: int, difficulty: int, index: int, *, namespace: str = "q") -> _Question:
    """The question ``index`` of ``difficulty`` for ``seed`` (pure: same inputs, same text)."""
    if not 1 <= difficulty <= MAX_TABLE_DIFFICULTY:
        raise GuardrailConfigError(
            f"table-lookup difficulty must be between 1 and {MAX_TABLE_DIFFICULTY}, "
            f"got {difficulty}"
        )
    rng = random.Random(f"table:{namespace}:{seed}:{difficulty}:{index}")
    size = 2 + 2 * difficulty
    names = rng.sample(_ITEMS, size)
    colours = rng.sample(_COLOURS, size)
    rows = [
        (n, c, rng.randint(3, 60), rng.randint(1, 20)) for n, c in zip(names, colours, strict=True)
    ]
    name, colour, price, weight = rows[rng.randrange(size)]
    kinds = ["colour", "price", "weight"] + (["item"] if difficulty >= 2 else [])
    kind = rng.choice(kinds)
    table = _render(rows)
    answers: tuple[str, ...]
    if kind == "colour":
        ask, line, answers = (
            f"What colour is the {name}?",
            f"The {name} row says {colour}.",
            (colour,),
        )
    elif kind == "price":
        ask = f"How much does the {name} cost, in dollars?"
        line, answers = f"The {name} row says {price} dollars.", (str(price), f"{price} dollars")
    elif kind == "weight":
        ask = f"How heavy is the {name}, in kg?"
        line, answers = f"The {name} row says {weight} kg.", (str(weight), f"{weight} kg")
    else:
        ask, line, answers = f"Which item is {colour}?", f"The {colour} row is the {name}.", (name,)
    return _Question(
        question=f"{table}\n{ask}",
        solution=f"{line}\n{ANSWER_PREFIX} {answers[0]}.",
        answers=answers,
        kind=kind,
    )


class TableLookupTask:
    """Seeded table questions; ``difficulties`` are interleaved in ``items()`` (endless)."""

    name = "table-lookup"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(self, difficulties: Sequence[int] = (1, 2), *, seed: int = 0) -> None:
        if not difficulties:
            raise GuardrailConfigError("table-lookup needs at least one difficulty")
        for difficulty in difficulties:
            table_question(seed, difficulty, 0)  # validates the range
        self.difficulties = tuple(difficulties)
        self.seed = seed
        self.shots = tuple(
            Shot(q.question, q.solution)
            for q in (table_question(0, 1 + i % 2, i, namespace="shot") for i in range(3))
        )

    def items(self) -> Iterator[TaskItem]:
        """Endless items, cycling through the difficulties."""
        index = 0
        while True:
            for difficulty in self.difficulties:
                q = table_question(self.seed, difficulty, index)
                yield TaskItem(
                    id=f"table-d{difficulty}-s{self.seed}-{index}",
                    question=q.question,
                    reference=q.answers,
                    metadata={"difficulty": difficulty, "kind": q.kind},
                )
            index += 1

    def prompt(self, question: str) -> list[Message]:
        """System instruction, the worked examples, then the question."""
        return _few_shot(SYSTEM, self.shots, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Normalised exact match against the cell's value (with or without its unit)."""
        return check_short_answer(completion, reference)
