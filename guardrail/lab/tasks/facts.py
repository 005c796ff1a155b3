"""Facts with aliases, as short answers (``facts``) and as multiple choice (``fact-choice``).

Relations over two tables shipped in ``guardrail/lab/tasks/_data/`` (extracted once from the
``countryinfo`` and ``periodictable`` packages; see ``datasets/sources/``): the capital and the
continent of a country, the symbol of an element, the element of a symbol, and an element's
atomic number. The task is finite (about 1,100 questions); items come in a seeded order, and
``split`` keeps a fixed fifth of them (by id hash) as ``test``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from guardrail.lab.tasks.base import ANSWER_PREFIX, Message, Reference, Shot, TaskItem
from guardrail.lab.tasks.base import few_shot_messages as _few_shot
from guardrail.lab.tasks.choice import CHOICE_SHOTS, check_choice, format_choices
from guardrail.lab.tasks.choice import SYSTEM as CHOICE_SYSTEM
from guardrail.lab.tasks.short_answer import check_short_answer
from guardrail.lab.tasks.splits import Split, in_split, validate_split

__all__ = ["FACT_RELATIONS", "Fact", "FactChoiceTask", "FactsTask", "facts"]

SYSTEM = (
    "Answer the question. Reason in one short line, then finish with the line "
    f"'{ANSWER_PREFIX} X.' where X is a short answer."
)

SHOTS = (
    Shot(
        "What is the largest planet in the Solar System?",
        f"Jupiter is the biggest of the planets.\n{ANSWER_PREFIX} Jupiter.",
    ),
    Shot(
        "How many legs does a spider have?",
        f"Spiders are arachnids, which have eight legs.\n{ANSWER_PREFIX} 8.",
    ),
    Shot(
        "Which ocean lies between Europe and North America?",
        f"The Atlantic separates Europe from North America.\n{ANSWER_PREFIX} Atlantic Ocean.",
    ),
)

FACT_RELATIONS = ("capital", "continent", "symbol", "element", "number")
"""The relations asked about, in the order their questions are interleaved."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One question: the relation, its subject, every accepted answer (first = canonical)."""

    id: str
    relation: str
    question: str
    answers: tuple[str, ...]


def _table(name: str) -> list[dict[str, Any]]:
    text = (
        resources.files("guardrail.lab.tasks").joinpath("_data", f"{name}.json").read_text("utf-8")
    )
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _country_facts() -> Iterator[Fact]:
    for row in _table("countries"):
        name, slug = row["name"], _slug(row["name"])
        capital = row["capital"]  # a list where a country has several (every one is accepted)
        capitals = (capital,) if isinstance(capital, str) else tuple(capital)
        yield Fact(f"capital-{slug}", "capital", f"What is the capital of {name}?", capitals)
        yield Fact(
            f"continent-{slug}",
            "continent",
            f"On which continent is {name}?",
            (row["continent"],),
        )


def _element_facts() -> Iterator[Fact]:
    for row in _table("elements"):
        name, symbol, slug = row["name"], row["symbol"], _slug(row["name"])
        yield Fact(
            f"symbol-{slug}",
            "symbol",
            f"What is the chemical symbol of {name}?",
            (symbol,),
        )
        yield Fact(
            f"element-{slug}",
            "element",
            f"Which chemical element has the symbol {symbol}?",
            (name,),
        )
        yield Fact(
            f"number-{slug}",
            "number",
            f"What is the atomic number of {name}?",
            (str(row["number"]),),
        )


@cache
def facts() -> tuple[Fact, ...]:
    """Every fact question, in table order."""
    return (*_country_facts(), *_element_facts())


def _ordered(seed: int, split: Split, relations: Sequence[str]) -> list[Fact]:
    chosen = [f for f in facts() if f.relation in relations and in_split(f.id, split)]
    random.Random(f"facts:{seed}").shuffle(chosen)
    return chosen


def _check_relations(relations: Sequence[str]) -> tuple[str, ...]:
    from guardrail.errors import GuardrailConfigError

    unknown = [r for r in relations if r not in FACT_RELATIONS]
    if unknown or not relations:
        raise GuardrailConfigError(
            f"unknown fact relation(s) {unknown}: expected some of {', '.join(FACT_RELATIONS)}"
        )
    return tuple(relations)


class FactsTask:
    """Short-answer fact questions; the checker accepts the answer or any alias."""

    name = "facts"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(
        self,
        *,
        seed: int = 0,
        split: str = "all",
        relations: Sequence[str] = FACT_RELATIONS,
    ) -> None:
        self.seed = seed
        self.split = validate_split(split)
        self.relations = _check_relations(relations)

    def items(self) -> Iterator[TaskItem]:
        """The split's facts in a seeded order (finite)."""
        for fact in _ordered(self.seed, self.split, self.relations):
            yield TaskItem(
                f"facts-{fact.id}", fact.question, fact.answers, {"relation": fact.relation}
            )

    def prompt(self, question: str) -> list[Message]:
        """System instruction, the worked examples, then the question."""
        return _few_shot(SYSTEM, SHOTS, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Normalised exact match against the answer or any alias."""
        return check_short_answer(completion, reference)


class FactChoiceTask:
    """The same facts as multiple choice: the answer and ``choices - 1`` distractors of its kind.

    Distractors are other answers of the same relation, drawn with the item's own seed, and the
    right letter's position is drawn too, so every letter is right about equally often.
    """

    name = "fact-choice"
    stop: tuple[str, ...] = ("\nQuestion:", "\n\n")

    def __init__(
        self,
        *,
        seed: int = 0,
        split: str = "all",
        choices: int = 4,
        relations: Sequence[str] = FACT_RELATIONS,
    ) -> None:
        from guardrail.errors import GuardrailConfigError

        if not 2 <= choices <= 8:
            raise GuardrailConfigError(f"fact-choice: choices must be 2 to 8, got {choices}")
        self.seed = seed
        self.split = validate_split(split)
        self.choices = choices
        self.relations = _check_relations(relations)

    def items(self) -> Iterator[TaskItem]:
        """The split's facts in a seeded order, each with its lettered options (finite)."""
        pools: dict[str, list[str]] = {}
        for fact in facts():
            pools.setdefault(fact.relation, []).append(fact.answers[0])
        for fact in _ordered(self.seed, self.split, self.relations):
            rng = random.Random(f"fact-choice:{self.seed}:{fact.id}")
            pool = sorted({a for a in pools[fact.relation] if a not in fact.answers})
            options = rng.sample(pool, self.choices - 1)
            position = rng.randrange(self.choices)
            options.insert(position, fact.answers[0])
            letter = "ABCDEFGH"[position]
            yield TaskItem(
                f"fact-choice-{fact.id}",
                format_choices(fact.question, options),
                letter,
                {"relation": fact.relation, "choices": self.choices},
            )

    def prompt(self, question: str) -> list[Message]:
        """The multiple-choice instruction and worked examples, then the question."""
        return _few_shot(CHOICE_SYSTEM, CHOICE_SHOTS, question)

    def check(self, completion: str, reference: Reference) -> bool:
        """Letter comparison."""
        return check_choice(completion, reference)
