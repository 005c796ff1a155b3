"""A seeded synthetic task: arithmetic word problems with ``difficulty`` = number of steps.

Every item is generated from ``(seed, difficulty, index)`` alone, so its id
(``synthetic-d{difficulty}-s{seed}-{index}``) names the same question in every run, whatever the
limit or the other difficulties asked for. Answers are always positive integers. The few-shot
examples come from the same generator (in a separate seed space), one step per line and a final
``The answer is N.`` line, so that the model's answers have paragraph ends to truncate at.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from guardrail.errors import GuardrailConfigError
from guardrail.lab.tasks.base import (
    ANSWER_PREFIX,
    Message,
    Reference,
    Shot,
    TaskItem,
    few_shot_messages,
)
from guardrail.lab.tasks.numeric import check_numeric

__all__ = ["MAX_DIFFICULTY", "SyntheticArithmeticTask", "synthetic_problem"]

MAX_DIFFICULTY = 5

SYSTEM = (
    "You solve math word problems. Write one short step per line, then finish with the line "
    f"'{ANSWER_PREFIX} N.'"
)

_NAMES = (
    "Tom", "Anna", "Ben", "Lily", "Sam", "Emma", "Jack", "Mia", "Leo", "Zoe", "Max", "Ella",
)  # fmt: skip
_THINGS = (
    "apples", "pencils", "stickers", "marbles", "cookies", "books", "coins", "cards",
    "flowers", "shells", "stamps", "candies",
)  # fmt: skip
_FRIENDS = ("a friend", "a neighbour", "a cousin", "a classmate", "a teacher")


@dataclass(frozen=True, slots=True)
class _Problem:
    question: str
    solution: str
    answer: int


@dataclass(slots=True)
class _State:
    name: str
    things: str
    value: int
    sentences: list[str]
    steps: list[str]


def _add(rng: random.Random, s: _State, scale: int) -> None:
    b = rng.randint(2, scale)
    s.sentences.append(f"Then {s.name} finds {b} more {s.things}.")
    s.steps.append(f"{s.name} finds {b} more, so {s.value} + {b} = {s.value + b}.")
    s.value += b


def _sub(rng: random.Random, s: _State, scale: int) -> None:
    b = rng.randint(2, s.value - 1) if s.value > 2 else 1  # "gives 1 apples" reads badly
    friend = rng.choice(_FRIENDS)
    s.sentences.append(f"Then {s.name} gives {b} {s.things} to {friend}.")
    s.steps.append(f"{s.name} gives away {b}, so {s.value} - {b} = {s.value - b}.")
    s.value -= b


def _mul(rng: random.Random, s: _State, scale: int) -> None:
    factor = rng.choice((2, 3) if s.value <= 20 else (2,))
    word = {2: "twice", 3: "three times"}[factor]
    s.sentences.append(f"Then {s.name} ends up with {word} as many {s.things} as before.")
    s.steps.append(f"{word.capitalize()} as many is {s.value} * {factor} = {s.value * factor}.")
    s.value *= factor


_STEPS: dict[str, Callable[[random.Random, _State, int], None]] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
}
_SHOT_OPS = (("add",), ("sub",), ("mul",), ("add", "sub"))


def synthetic_problem(
    seed: int,
    difficulty: int,
    index: int,
    *,
    namespace: str = "q",
    ops: Sequence[str] | None = None,
) -> _Problem:
    """The problem ``index`` of ``difficulty`` steps for ``seed`` (pure: same inputs, same text).

    ``ops`` forces the operations (``"add"``, ``"sub"``, ``"mul"``); by default they are drawn.
    """
    if not 1 <= difficulty <= MAX_DIFFICULTY:
        raise GuardrailConfigError(
            f"synthetic difficulty must be between 1 and {MAX_DIFFICULTY}, got {difficulty}"
        )
    rng = random.Random(f"{namespace}:{seed}:{difficulty}:{index}")
    scale = 9 if difficulty == 1 else 12
    state = _State(
        name=rng.choice(_NAMES),
        things=rng.choice(_THINGS),
        value=rng.randint(3, scale + 3),
        sentences=[],
        steps=[],
    )
    state.sentences.append(f"{state.name} has {state.value} {state.things}.")
    state.steps.append(f"{state.name} starts with {state.value} {state.things}.")
    for position in range(difficulty):
        if ops is not None:
            step = _STEPS[ops[position]]
        else:
            step = rng.choice(list(_STEPS.values()) if state.value > 1 else [_add, _mul])
        step(rng, state, scale)
    question = " ".join([*state.sentences, f"How many {state.things} does {state.name} have now?"])
    solution = "\n".join([*state.steps, f"{ANSWER_PREFIX} {state.value}."])
    return _Problem(question=question, solution=solution, answer=state.value)


class SyntheticArithmeticTask:
    """Seeded word problems; ``difficulties`` are interleaved (1, 2, 1, 2, ...) in ``items()``."""

    name = "synthetic"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(
        self, difficulties: Sequence[int] = (1, 2), *, seed: int = 0, shots: int = 4
    ) -> None:
        if not difficulties:
            raise GuardrailConfigError("synthetic task needs at least one difficulty")
        for difficulty in difficulties:
            synthetic_problem(seed, difficulty, 0)  # validates the range
        self.difficulties = tuple(difficulties)
        self.seed = seed
        # Fixed shots (one per operation, then a two-step one), the same for every seed.
        self.shots = tuple(
            Shot(p.question, p.solution)
            for p in (
                synthetic_problem(0, len(ops), i, namespace="shot", ops=ops)
                for i, ops in enumerate(_SHOT_OPS[:shots])
            )
        )

    def items(self) -> Iterator[TaskItem]:
        """Endless items, cycling through the difficulties."""
        index = 0
        while True:
            for difficulty in self.difficulties:
                problem = synthetic_problem(self.seed, difficulty, index)
                yield TaskItem(
                    id=f"synthetic-d{difficulty}-s{self.seed}-{index}",
                    question=problem.question,
                    reference=str(problem.answer),
                    metadata={"difficulty": difficulty, "solution": problem.solution},
                )
            index += 1

    def prompt(self, question: str) -> list[Message]:
        """System instruction, the worked examples, then the question."""
        return few_shot_messages(SYSTEM, self.shots, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Numeric comparison of the final answer."""
        return check_numeric(completion, reference)
