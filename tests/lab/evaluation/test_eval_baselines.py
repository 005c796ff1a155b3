"""Baselines on hand-made logprob sequences, prompts to the tiny model, and self-consistency."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from guardrail.generation import TokenStep
from guardrail.lab.evaluation.baselines import (
    BASELINE_NAMES,
    TOKEN_BASELINES,
    VERBALIZED_PREFIX,
    final_answer,
    first_token_probability,
    mean_entropy_confidence,
    mean_logprob_confidence,
    min_window_confidence,
    p_true,
    parse_verbalized,
    self_consistency,
    token_baselines,
    verbalized_confidence,
)
from guardrail.lab.tasks import (
    GSM8KTask,
    MultipleChoiceTask,
    ShortAnswerTask,
    SyntheticArithmeticTask,
)


def _step(logprob: float, top: tuple[tuple[str, float], ...] = ()) -> TokenStep:
    return TokenStep(text="x", token_id=0, token="x", logprob=logprob, top_logprobs=top)


def test_mean_logprob_is_the_geometric_mean_probability() -> None:
    assert mean_logprob_confidence([math.log(0.5), math.log(0.125)]) == pytest.approx(0.25)
    assert mean_logprob_confidence([]) is None


def test_min_window_finds_the_weakest_stretch() -> None:
    confident, shaky = math.log(0.9), math.log(0.1)
    logprobs = [confident] * 20 + [shaky] * 4 + [confident] * 20
    # window 4 sits exactly on the shaky stretch
    assert min_window_confidence(logprobs, window=4) == pytest.approx(0.1)
    # a window of 8 averages 4 shaky and 4 confident tokens
    expected = math.exp((4 * shaky + 4 * confident) / 8)
    assert min_window_confidence(logprobs, window=8) == pytest.approx(expected)
    # shorter than the window: one window over everything
    assert min_window_confidence([shaky, confident], window=16) == pytest.approx(
        math.exp((shaky + confident) / 2)
    )
    assert min_window_confidence([], window=16) is None
    with pytest.raises(ValueError, match="window"):
        min_window_confidence([0.0], window=0)


def test_min_window_never_exceeds_mean_confidence() -> None:
    logprobs = [math.log(p) for p in (0.9, 0.5, 0.99, 0.2, 0.7, 0.95, 0.6)]
    assert min_window_confidence(logprobs, 3) <= mean_logprob_confidence(logprobs)  # type: ignore[operator]


def test_mean_entropy_confidence() -> None:
    certain = _step(0.0, (("x", 0.0),))
    uniform = _step(math.log(0.5), (("x", math.log(0.5)), ("y", math.log(0.5))))
    assert mean_entropy_confidence([certain]) == pytest.approx(1.0)
    assert mean_entropy_confidence([uniform]) == pytest.approx(0.5)  # exp(-ln 2)
    assert mean_entropy_confidence([certain, uniform]) == pytest.approx(math.exp(-math.log(2) / 2))
    assert mean_entropy_confidence([]) is None


def test_first_token_probability_and_the_bundle() -> None:
    steps = [_step(math.log(0.4)), _step(math.log(0.8))]
    assert first_token_probability([s.logprob for s in steps]) == pytest.approx(0.4)
    bundle = token_baselines(steps, window=16)
    assert set(bundle) == set(TOKEN_BASELINES) <= set(BASELINE_NAMES)
    assert all(0.0 <= v <= 1.0 for v in bundle.values() if v is not None)
    assert all(v is None for v in token_baselines([]).values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80", 0.8),
        (" 95% sure.", 0.95),
        ("I am 95% sure.", None),
        ("The answer is 2.", None),
        ("72.5\nThe", 0.725),
        ("0.8", 0.8),
        ("100", 1.0),
        ("0", 0.0),
        ("250", None),
        ("no idea", None),
        ("", None),
    ],
)
def test_parse_verbalized(text: str, expected: float | None) -> None:
    value = parse_verbalized(text)
    assert value == (pytest.approx(expected) if expected is not None else None)


class _Replying:
    tokenizer = type("NoTemplate", (), {"chat_template": None})()

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[Any] = []

    def generate(self, messages: Any, **options: Any) -> str:
        self.calls.append((messages, options))
        return self.reply


def test_verbalized_confidence_asks_once_greedily() -> None:
    generator = _Replying("85")
    assert verbalized_confidence(generator, "Q?", "A.", max_new_tokens=5) == pytest.approx(0.85)
    ((prompt, options),) = generator.calls
    assert "Q?" in prompt
    assert "0 to 100" in prompt
    assert prompt.endswith(VERBALIZED_PREFIX)
    assert options == {"max_new_tokens": 5, "temperature": 0.0}
    assert verbalized_confidence(_Replying("not sure"), "Q?", "A.") is None


def test_p_true_on_the_tiny_model(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    value = p_true(model, tokenizer, "What is 2 + 2?", "The answer is 4.")
    assert value is not None
    assert 0.0 < value < 1.0
    # deterministic: one forward pass, no sampling
    assert value == p_true(model, tokenizer, "What is 2 + 2?", "The answer is 4.")


def test_p_true_is_none_when_the_words_share_every_first_token(tiny: tuple[Any, Any]) -> None:
    model, _tokenizer = tiny

    class _SameFirstToken:
        chat_template = None

        def __call__(self, text: str, **kwargs: Any) -> dict[str, Any]:
            return {"input_ids": [7, 8]}

    assert p_true(model, _SameFirstToken(), "Q", "A") is None


def test_final_answer_per_task_type(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("")
    assert final_answer(GSM8KTask(data), "So 1,000.0 total.\nThe answer is 1,000.") == "1000"
    assert final_answer(SyntheticArithmeticTask(), "no number") is None
    assert final_answer(MultipleChoiceTask(data), "The answer is (b).") == "B"
    assert final_answer(ShortAnswerTask(data), "It is Paris.\nThe answer is Paris.") == "Paris."
    assert final_answer(ShortAnswerTask(data), "") is None

    class _Custom:
        name = "custom"
        stop = ()

        def extract_answer(self, completion: str) -> str | None:
            return completion.upper() or None

    assert final_answer(_Custom(), "yes") == "YES"  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no final-answer extractor"):
        final_answer(object(), "x")  # type: ignore[arg-type]


def test_self_consistency_uses_the_task_checker() -> None:
    task = SyntheticArithmeticTask()
    answer = "3 + 2 = 5.\nThe answer is 5."
    samples = ["The answer is 5.", "It is 5.0", "The answer is 6.", "#### 5"]
    assert self_consistency(task, answer, samples) == pytest.approx(0.75)
    assert self_consistency(task, answer, []) is None
    assert self_consistency(task, "I do not know", samples) == 0.0
