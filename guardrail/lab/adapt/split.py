"""The seeded split of a user's questions into fit, dev and test (by question, never by answer).

Every answer of one question lands in the same part, so the test figures are on questions that
nothing was fitted or chosen on. The test part is at least :data:`TEST_SHARE` of the questions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

from guardrail.errors import GuardrailConfigError

__all__ = ["DEV_SHARE", "MIN_PER_PART", "TEST_SHARE", "Split", "min_questions", "split_questions"]

TEST_SHARE = 0.25
"""Share of the questions held out for the test part (rounded up)."""
DEV_SHARE = 0.25
"""Share of the questions the candidates are chosen on (rounded up)."""
MIN_PER_PART = {"fit": 6, "dev": 3, "test": 3}
"""Fewest questions per part: below this a fitted map or an AUROC means nothing."""


@dataclass(frozen=True, slots=True)
class Split:
    """Question texts of each part, and the seed that drew them."""

    fit: tuple[str, ...]
    dev: tuple[str, ...]
    test: tuple[str, ...]
    seed: int

    def part(self, question: str) -> str:
        """``"fit"``, ``"dev"`` or ``"test"``; an unknown question is an error."""
        for name in ("fit", "dev", "test"):
            if question in getattr(self, name):
                return name
        raise KeyError(question)

    def describe(self) -> str:
        """One line: the sizes of the parts and the seed."""
        total = len(self.fit) + len(self.dev) + len(self.test)
        return (
            f"{total} questions split by question (seed {self.seed}): fit {len(self.fit)}, "
            f"dev {len(self.dev)}, test {len(self.test)}"
        )

    def to_dict(self) -> dict[str, object]:
        """JSON form: sizes and seed (the question lists are kept in the features file)."""
        return {
            "seed": self.seed,
            "fit": len(self.fit),
            "dev": len(self.dev),
            "test": len(self.test),
            "test_share": TEST_SHARE if self.test else 0.0,
        }


def min_questions(*, with_test: bool = True) -> int:
    """The fewest questions :func:`split_questions` accepts."""
    need = MIN_PER_PART["fit"] + MIN_PER_PART["dev"]
    if not with_test:
        return math.ceil(max(need, MIN_PER_PART["dev"] / DEV_SHARE))
    # dev and test are each a quarter, rounded up; fit is the rest
    n = need + MIN_PER_PART["test"]
    while min(math.ceil(n * DEV_SHARE), math.ceil(n * TEST_SHARE)) < MIN_PER_PART["dev"] or (
        n - math.ceil(n * DEV_SHARE) - math.ceil(n * TEST_SHARE) < MIN_PER_PART["fit"]
    ):
        n += 1
    return n


def split_questions(questions: Iterable[str], seed: int = 0, *, with_test: bool = True) -> Split:
    """Split distinct questions: test a quarter (rounded up), dev a quarter, fit the rest.

    ``with_test=False`` (the test answers come from elsewhere) splits into fit and dev only.
    Fewer questions than :func:`min_questions` is an error that says how many are needed.
    """
    unique = sorted(set(questions))
    need = min_questions(with_test=with_test)
    if len(unique) < need:
        raise GuardrailConfigError(
            f"{len(unique)} distinct question(s) are too few to split into fit, dev"
            f"{' and test' if with_test else ''}: at least {need} are needed "
            f"(fit >= {MIN_PER_PART['fit']}, dev >= {MIN_PER_PART['dev']}"
            f"{', test >= ' + str(MIN_PER_PART['test']) if with_test else ''})"
        )
    random.Random(seed).shuffle(unique)
    n_test = math.ceil(len(unique) * TEST_SHARE) if with_test else 0
    n_dev = max(MIN_PER_PART["dev"], math.ceil(len(unique) * DEV_SHARE))
    test = tuple(unique[:n_test])
    dev = tuple(unique[n_test : n_test + n_dev])
    fit = tuple(unique[n_test + n_dev :])
    return Split(fit=fit, dev=dev, test=test, seed=seed)
