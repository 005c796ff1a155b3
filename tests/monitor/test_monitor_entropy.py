"""Entropy from OpenAI-shaped top-logprobs, against hand-computed values."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.entropy import TokenLogprobs, logprobs_entropy, parse_logprobs, top_k_entropy

LN = math.log
# -(0.5 ln 0.5 + 0.25 ln 0.25 + 0.25 ln 0.25): top-2 of 0.5 and 0.25, "other" holds 0.25
H_HALF_QUARTER = 1.0397207708399179
# -(0.7 ln 0.7 + 0.3 ln 0.3): the top-2 hold all the mass
H_SEVEN_THREE = 0.6108643020548935


def entry(token: str, logprob: float, top: list[tuple[str, float]]) -> dict[str, object]:
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in top],
    }


@pytest.mark.parametrize(
    ("logprobs", "expected"),
    [
        ([LN(0.5), LN(0.25)], H_HALF_QUARTER),
        ([LN(0.7), LN(0.3)], H_SEVEN_THREE),
        ([0.0], 0.0),
        ([LN(0.5)], math.log(2)),  # 0.5 known + 0.5 other
        ([LN(0.6), LN(0.6)], math.log(2)),  # sums to 1.2: renormalised to 0.5 / 0.5, no other
        ([LN(0.5), LN(0.25), -math.inf], H_HALF_QUARTER),  # -inf is probability 0
        ([1e-9, -math.inf], 0.0),  # positive rounding is probability 1
        ([], 0.0),
        ([LN(0.25)] * 4, math.log(4)),
    ],
    ids=["half-quarter", "seven-three", "certain", "one-known", "over-one", "neg-inf",
         "positive", "empty", "uniform-4"],
)  # fmt: skip
def test_top_k_entropy_hand_values(logprobs: list[float], expected: float) -> None:
    assert top_k_entropy(logprobs) == pytest.approx(expected, abs=1e-12)


def test_top_k_entropy_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        top_k_entropy([float("nan")])


@settings(deadline=None, max_examples=100)
@given(st.lists(st.floats(min_value=-30.0, max_value=0.0), min_size=1, max_size=20))
def test_top_k_entropy_is_bounded(logprobs: list[float]) -> None:
    value = top_k_entropy(logprobs)
    assert 0.0 <= value <= math.log(len(logprobs) + 1) + 1e-9


def test_openai_dict_entries() -> None:
    chunk = [entry("The", LN(0.5), [("The", LN(0.5)), ("A", LN(0.25))])]
    assert logprobs_entropy(chunk) == pytest.approx(H_HALF_QUARTER)
    assert logprobs_entropy({"content": chunk, "refusal": None}) == pytest.approx(H_HALF_QUARTER)
    assert logprobs_entropy(chunk[0]) == pytest.approx(H_HALF_QUARTER)  # one bare entry


def test_parse_normalises_entries() -> None:
    parsed = parse_logprobs([entry("x", -0.1, [("x", -0.1), ("y", -2.5)])])
    assert parsed == [TokenLogprobs("x", -0.1, (("x", -0.1), ("y", -2.5)))]


def test_attribute_objects() -> None:
    top = [SimpleNamespace(token="a", logprob=LN(0.7)), SimpleNamespace(token="b", logprob=LN(0.3))]
    item = SimpleNamespace(token="a", logprob=LN(0.7), top_logprobs=top)
    assert logprobs_entropy([item]) == pytest.approx(H_SEVEN_THREE)
    assert logprobs_entropy(SimpleNamespace(content=[item])) == pytest.approx(H_SEVEN_THREE)


def test_openai_pydantic_objects() -> None:
    chat = pytest.importorskip("openai.types.chat")
    choice_logprobs = pytest.importorskip("openai.types.chat.chat_completion").ChoiceLogprobs
    token = chat.ChatCompletionTokenLogprob(
        token="a",
        bytes=None,
        logprob=LN(0.5),
        top_logprobs=[
            {"token": "a", "logprob": LN(0.5), "bytes": None},
            {"token": "b", "logprob": LN(0.25), "bytes": None},
        ],
    )
    assert logprobs_entropy([token]) == pytest.approx(H_HALF_QUARTER)
    assert logprobs_entropy(choice_logprobs(content=[token])) == pytest.approx(H_HALF_QUARTER)


def test_sampled_token_outside_top_is_added() -> None:
    # top-1 says "a" at 0.5; the sampled "c" (0.25) is known mass too; other = 0.25
    chunk = [entry("c", LN(0.25), [("a", LN(0.5))])]
    assert logprobs_entropy(chunk) == pytest.approx(H_HALF_QUARTER)


def test_no_top_logprobs_uses_the_sampled_token() -> None:
    assert logprobs_entropy([{"token": "a", "logprob": LN(0.5)}]) == pytest.approx(math.log(2))
    assert logprobs_entropy([{"token": "a", "logprob": LN(0.5), "top_logprobs": None}]) == (
        pytest.approx(math.log(2))
    )


def test_legacy_mapping_top_logprobs() -> None:
    chunk = [{"token": "a", "logprob": LN(0.7), "top_logprobs": {"a": LN(0.7), "b": LN(0.3)}}]
    assert logprobs_entropy(chunk) == pytest.approx(H_SEVEN_THREE)


def test_token_logprob_pairs_and_token_step_like_objects() -> None:
    pairs = (("a", LN(0.7)), ("b", LN(0.3)))
    step = SimpleNamespace(token="a", logprob=LN(0.7), top_logprobs=pairs)
    assert logprobs_entropy(step) == pytest.approx(H_SEVEN_THREE)
    assert logprobs_entropy([{"token": "a", "logprob": LN(0.7), "top_logprobs": pairs}]) == (
        pytest.approx(H_SEVEN_THREE)
    )


def test_chunk_with_several_tokens_takes_the_highest() -> None:
    chunk = [
        entry("a", LN(0.7), [("a", LN(0.7)), ("b", LN(0.3))]),
        entry("c", LN(0.5), [("c", LN(0.5)), ("d", LN(0.25))]),
    ]
    assert logprobs_entropy(chunk) == pytest.approx(H_HALF_QUARTER)


@pytest.mark.parametrize(
    "empty", [None, [], {"content": None}, {"content": []}, [{"token": "a", "logprob": None}]]
)
def test_no_logprobs_gives_none(empty: object) -> None:
    assert logprobs_entropy(empty) is None


@pytest.mark.parametrize(
    "bad",
    [
        "text",
        3.5,
        [{"token": "a", "logprob": "high"}],
        [{"logprob": -1, "top_logprobs": 7}],
        [{"logprob": -1, "top_logprobs": [{"token": "b"}]}],
    ],
)
def test_unsupported_shapes_raise_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        logprobs_entropy(bad)
