import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.scorers.readout import DigitReadout, parse_confidence
from guardrail.testing.tiny import tiny_tokenizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.7", 0.7),
        (" 0.75 is my guess", 0.75),
        (".3", 0.3),
        ("1", 1.0),
        ("1.0", 1.0),
        ("0", 0.0),
        ("confidence: 0.25\n", 0.25),
        ("no number", None),
        ("7", None),
        ("1.5", None),
        ("", None),
    ],
)
def test_parse_confidence(text: str, expected: float | None) -> None:
    value = parse_confidence(text)
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)


def _logits_for(readout: DigitReadout, p_one: float, tenths: list[float]) -> torch.Tensor:
    vocab = max(readout.digit_ids) + 1
    logits = torch.full((readout.logits_needed, vocab), -1e4)
    zero, one = readout.digit_ids[0], readout.digit_ids[1]
    logits[0, zero] = math.log(1 - p_one)
    logits[0, one] = math.log(p_one)
    for digit, p in enumerate(tenths):
        logits[-1, readout.digit_ids[digit]] = math.log(p)
    return logits


def test_expected_value_matches_hand_computation() -> None:
    readout = DigitReadout.for_tokenizer(tiny_tokenizer())
    tenths = [0.0001] * 10
    tenths[7] = 0.5
    tenths[2] = 0.5 - 0.0008
    logits = _logits_for(readout, p_one=0.2, tenths=tenths)
    expected = 0.2 * 1.0 + 0.8 * sum(p * d / 10 for d, p in enumerate(tenths)) / sum(tenths)
    assert float(readout.confidence(logits)) == pytest.approx(expected, abs=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-30, 30), min_size=2, max_size=2),
    st.lists(st.floats(-30, 30), min_size=10, max_size=10),
)
def test_confidence_is_a_probability(first: list[float], tenths: list[float]) -> None:
    readout = DigitReadout.for_tokenizer(tiny_tokenizer())
    vocab = max(readout.digit_ids) + 1
    logits = torch.randn(readout.logits_needed, vocab)
    logits[0, list(readout.digit_ids[:2])] = torch.tensor(first)
    logits[-1, list(readout.digit_ids)] = torch.tensor(tenths)
    value = float(readout.confidence(logits))
    assert 0.0 <= value <= 1.0


def test_readout_rejects_tokenizers_that_merge_digits() -> None:
    from guardrail.errors import ScorerUnavailableError

    class MergingTokenizer:
        def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
            return {"input_ids": [hash(text) % 1000]}  # one token per string

    with pytest.raises(ScorerUnavailableError, match="single-token digits"):
        DigitReadout.for_tokenizer(MergingTokenizer())
