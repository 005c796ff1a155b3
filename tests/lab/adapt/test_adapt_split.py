"""The split of ``guardrail adapt``: by question, seeded, test at least a quarter."""

from __future__ import annotations

import math

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.lab.adapt.split import MIN_PER_PART, TEST_SHARE, min_questions, split_questions


@pytest.mark.parametrize("n", [min_questions(), 20, 37, 150])
def test_parts_cover_every_question_once_and_test_is_a_quarter(n: int) -> None:
    questions = [f"q{i}" for i in range(n)]
    split = split_questions(questions + questions[:5], seed=3)  # duplicates split as one
    parts = [*split.fit, *split.dev, *split.test]
    assert sorted(parts) == sorted(questions)
    assert len(split.test) >= math.ceil(TEST_SHARE * n)
    assert len(split.fit) >= MIN_PER_PART["fit"]
    assert len(split.dev) >= MIN_PER_PART["dev"]
    assert f"test {len(split.test)}" in split.describe()


def test_the_seed_fixes_the_split() -> None:
    questions = [f"q{i}" for i in range(40)]
    assert split_questions(questions, 1) == split_questions(list(reversed(questions)), 1)
    assert split_questions(questions, 1).test != split_questions(questions, 2).test


def test_too_few_questions_say_how_many_are_needed() -> None:
    need = min_questions()
    with pytest.raises(GuardrailConfigError, match=f"at least {need} are needed"):
        split_questions([f"q{i}" for i in range(need - 1)])


def test_without_a_test_part_only_fit_and_dev() -> None:
    split = split_questions([f"q{i}" for i in range(20)], with_test=False)
    assert not split.test
    assert len(split.fit) + len(split.dev) == 20
    assert split.to_dict()["test_share"] == 0.0
