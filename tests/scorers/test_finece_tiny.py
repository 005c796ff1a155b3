"""FineCEScorer on a tiny random Llama: padding, sessions and batches agree with recomputation."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import torch

from guardrail.scorers.base import Scorer, ScoringSession

QUESTION = "Tom has 3 apples and buys 5 more. How many apples?"
ANSWER = "Tom starts with 3.\nHe buys 5 more, so 3 + 5 = 8.\n\nThe answer is 8."


def test_implements_protocols(tiny_scorer: Any) -> None:
    assert isinstance(tiny_scorer, Scorer)
    session = tiny_scorer.open_session(QUESTION)
    assert isinstance(session, ScoringSession)
    session.close()


def test_scores_are_deterministic_probabilities(tiny_scorer: Any) -> None:
    first = tiny_scorer.score(QUESTION, ANSWER)
    assert 0.0 <= first <= 1.0
    assert tiny_scorer.score(QUESTION, ANSWER) == first


def test_batch_equals_one_by_one_with_left_padding(tiny_scorer: Any) -> None:
    pairs = [(QUESTION, ""), (QUESTION, ANSWER[:10]), ("Short?", ANSWER), ("Q" * 90, "x")]
    batched = tiny_scorer.score_batch(pairs)
    single = [tiny_scorer.score(q, a) for q, a in pairs]
    assert batched == pytest.approx(single, abs=1e-4)
    # the padded rows really differ in length, so padding was exercised
    assert len({len(tiny_scorer.prompt.full_ids(q, a)) for q, a in pairs}) == len(pairs)


def test_batch_size_smaller_than_input(tiny: Any) -> None:
    from guardrail.scorers.finece import FineCEScorer

    model, tokenizer = tiny
    scorer = FineCEScorer(model, tokenizer, batch_size=2)
    pairs = [(QUESTION, ANSWER[:n]) for n in range(0, 50, 7)]
    assert scorer.score_batch(pairs) == pytest.approx([scorer.score(*p) for p in pairs], abs=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_session_matches_full_recompute(tiny_scorer: Any, seed: int) -> None:
    rng = random.Random(seed)
    session = tiny_scorer.open_session(QUESTION)
    assert session.score() == pytest.approx(tiny_scorer.score(QUESTION, ""), abs=1e-4)
    position = 0
    while position < len(ANSWER):
        step = rng.randint(1, 9)
        session.append(ANSWER[position : position + step])
        position += step
        if rng.random() < 0.5:
            expected = tiny_scorer.score(QUESTION, ANSWER[:position])
            assert session.score() == pytest.approx(expected, abs=1e-4)
    assert session.score() == pytest.approx(tiny_scorer.score(QUESTION, ANSWER), abs=1e-4)


def test_session_entropy_is_the_next_token_entropy(tiny_scorer: Any) -> None:
    session = tiny_scorer.open_session(QUESTION)
    session.append(ANSWER[:20])
    entropy = session.entropy()
    ids = tiny_scorer.prompt.question_ids(QUESTION) + tiny_scorer.prompt.answer_ids(ANSWER[:20])
    with torch.inference_mode():
        logits = tiny_scorer.model(input_ids=torch.tensor([ids])).logits[0, -1]
    logp = torch.log_softmax(logits.float(), -1)
    assert entropy == pytest.approx(float(-(logp.exp() * logp).sum()), abs=1e-4)
    assert 0.0 <= entropy <= math.log(len(tiny_scorer.tokenizer)) + 1e-6


def test_stream_batch_rows_advance_independently(tiny_scorer: Any) -> None:
    questions = [QUESTION, "What is 2 + 2?", "Name a prime number larger than 10."]
    answers = [ANSWER, "2 + 2 = 4.\nSo 4.", "13 is prime.\n"]
    batch = tiny_scorer.open_batch(questions)
    rng = random.Random(7)
    progress = [0, 0, 0]
    for _ in range(6):
        for row, answer in enumerate(answers):
            if rng.random() < 0.6:  # some rows get nothing this step
                step = rng.randint(1, 12)
                batch.append(row, answer[progress[row] : progress[row] + step])
                progress[row] += step
        expected = tiny_scorer.score_batch(
            [(q, a[:p]) for q, a, p in zip(questions, answers, progress, strict=True)]
        )
        assert batch.score() == pytest.approx(expected, abs=1e-4)
    batch.close()


def test_closed_session_refuses_work(tiny_scorer: Any) -> None:
    from guardrail.errors import ScorerUnavailableError

    session = tiny_scorer.open_session(QUESTION)
    session.close()
    with pytest.raises(ScorerUnavailableError, match="closed"):
        session.append("x")


def test_greedy_cross_check_returns_number_or_none(tiny_scorer: Any) -> None:
    value = tiny_scorer.greedy_confidence(QUESTION, ANSWER)
    assert value is None or 0.0 <= value <= 1.0


def test_calibration_map_applies_to_batches_and_sessions(tiny: Any, tiny_scorer: Any) -> None:
    from guardrail.calibration import PlattMap
    from guardrail.scorers.finece import FineCEScorer

    model, tokenizer = tiny
    mapping = PlattMap(coef=2.0, intercept=0.5)
    calibrated = FineCEScorer(model, tokenizer, calibration=mapping)
    raw = tiny_scorer.score(QUESTION, ANSWER)
    expected = float(mapping.apply([raw])[0])
    assert calibrated.score(QUESTION, ANSWER) == pytest.approx(expected, abs=1e-5)
    assert abs(expected - raw) > 1e-3  # the map really moved the estimate
    session = calibrated.open_session(QUESTION)
    session.append(ANSWER)
    assert session.score() == pytest.approx(expected, abs=1e-4)
    session.close()
