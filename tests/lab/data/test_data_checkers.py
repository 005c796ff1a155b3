"""Answer checkers: tables of cases and properties that hold for all inputs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.lab.tasks import (
    check_choice,
    check_numeric,
    check_short_answer,
    extract_choice,
    extract_numeric_answer,
    extract_short_answer,
    normalize_answer,
    numbers_equal,
    parse_number,
)

FAST = settings(deadline=None, max_examples=200)


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("She has 3 + 4 = 7 apples.\nThe answer is 7.", Decimal(7)),
        ("Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18", Decimal(18)),
        ("#### 5\nThe answer is 6.", Decimal(5)),  # #### wins over "answer is"
        ("The answer is 6. Later: 99 apples", Decimal(6)),  # "answer is" wins over last number
        ("The answer is $1,000.00.", Decimal(1000)),
        ("The answer is: (12)", Decimal(12)),
        ("It is -5 degrees", Decimal(-5)),
        ("10-3 = 7", Decimal(7)),
        ("10-3", Decimal(3)),  # a minus after a digit is a subtraction
        ("1,234,567 grains", Decimal(1234567)),
        ("no number here", None),
        ("", None),
    ],
)
def test_numeric_extraction_table(completion: str, expected: Decimal | None) -> None:
    assert extract_numeric_answer(completion) == expected


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("1,000", "1000.0", True),
        ("$1,000", "1000", True),
        ("18", "18.00", True),
        ("-3", "3", False),
        ("0.5", ".5", True),
        ("abc", "abc", False),
        ("NaN", "NaN", False),
        ("", "0", False),
    ],
)
def test_numbers_equal_table(left: str, right: str, equal: bool) -> None:
    assert numbers_equal(left, right) is equal


def _formats(value: int) -> st.SearchStrategy[str]:
    plain = str(value)
    commas = f"{value:,}"
    return st.sampled_from([plain, commas, f"{plain}.0", f"{plain}.00", f"${commas}"])


@FAST
@given(
    st.integers(min_value=-(10**9), max_value=10**9).flatmap(
        lambda v: st.tuples(st.just(v), _formats(v))
    )
)
def test_numbers_compare_as_values(case: tuple[int, str]) -> None:
    value, written = case
    assert numbers_equal(written, str(value))
    assert check_numeric(f"Some steps.\nThe answer is {written}.", str(value))
    assert check_numeric(f"work\n#### {written}", f"{value}.0")
    assert not check_numeric(f"The answer is {written}.", str(value + 1))


@FAST
@given(
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=6),
    st.text(alphabet="abc xyz.\n", max_size=20),
)
def test_last_number_is_the_fallback(numbers: list[int], filler: str) -> None:
    text = f" {filler} ".join(["start", *(str(n) for n in numbers), "end"])
    assert extract_numeric_answer(text) == Decimal(numbers[-1])
    assert check_numeric(text, str(numbers[-1]))


@FAST
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_hashes_take_priority(marked: int, later: int) -> None:
    assert extract_numeric_answer(f"#### {marked}\nthen {later}") == Decimal(marked)


@FAST
@given(st.text(max_size=200), st.text(max_size=10))
def test_checkers_never_raise(completion: str, reference: str) -> None:
    assert isinstance(check_numeric(completion, reference), bool)
    assert isinstance(check_choice(completion, reference or "A"), bool)
    assert isinstance(check_short_answer(completion, reference), bool)
    parse_number(completion)


@pytest.mark.parametrize(
    ("completion", "letter"),
    [
        ("Birds fly.\nThe answer is (A).", "A"),
        ("the answer is b", "B"),
        ("I think (C) fits best.", "C"),
        ("I am sure: D", "D"),
        ("The answer is (B). Not (C).", "B"),
        ("no letters", None),
    ],
)
def test_choice_extraction_table(completion: str, letter: str | None) -> None:
    assert extract_choice(completion) == letter


def test_choice_check_accepts_parenthesised_reference() -> None:
    assert check_choice("The answer is (c).", "(C)")
    assert not check_choice("The answer is (A).", "C")


@pytest.mark.parametrize(
    ("completion", "references", "ok"),
    [
        ("France's capital.\nThe answer is Paris.", ("Paris",), True),
        ("The answer is the City of Paris!", ("Paris", "City of Paris"), True),
        ("The answer is Lyon.", ("Paris", "City of Paris"), False),
        ("Green", ("green",), True),  # last line when no "answer is"
        ("", ("",), False),
    ],
)
def test_short_answer_table(completion: str, references: tuple[str, ...], ok: bool) -> None:
    assert check_short_answer(completion, references) is ok


@FAST
@given(st.text(max_size=60))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once


@FAST
@given(
    st.text(alphabet="abcdefgh XYZ", min_size=1, max_size=20).filter(lambda s: normalize_answer(s))
)
def test_short_answer_matches_its_own_statement(answer: str) -> None:
    completion = f"Some reasoning.\nThe answer is {answer}."
    assert extract_short_answer(completion).startswith(answer.strip()[:1])
    assert check_short_answer(completion, ("something else", answer.upper()))
