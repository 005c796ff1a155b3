"""Work per estimate is bounded: what is tokenized and what the model attends to."""

from __future__ import annotations

from typing import Any

import pytest

from guardrail.scorers.answer_tokens import CHARS_PER_TOKEN_CAP, AnswerEncoder
from guardrail.scorers.finece import FineCEScorer

QUESTION = "What is the running total after every step?"
LINE = "step: add 7 to the running total.\n"


class _Counting:
    """Wraps a tokenizer and records the length of every text it is asked to tokenize."""

    def __init__(self, tokenizer: Any, seen: list[int]) -> None:
        self._tokenizer = tokenizer
        self._seen = seen

    def __call__(self, text: str, **kwargs: Any) -> Any:
        self._seen.append(len(text))
        return self._tokenizer(text, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


@pytest.fixture
def tokenized(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lengths of every text the answer encoder tokenizes (its fast path included)."""
    seen: list[int] = []
    encode = AnswerEncoder.encode

    def counting(self: AnswerEncoder, text: str) -> Any:
        seen.append(len(text))
        return encode(self, text)

    monkeypatch.setattr(AnswerEncoder, "encode", counting)
    return seen


def test_one_estimate_tokenizes_a_bounded_tail(tiny: Any, tokenized: list[int]) -> None:
    model, tokenizer = tiny
    calls: list[int] = []
    scorer = FineCEScorer(
        model, _Counting(tokenizer, calls), max_input_tokens=700
    )  # characters, for this tokenizer
    answer = LINE * 30_000  # about 1 MB
    calls.clear()
    ids, cut = scorer.input_ids(QUESTION, answer)
    assert len(ids) <= 700
    assert cut > 0
    bound = CHARS_PER_TOKEN_CAP * 700
    assert max([*calls, *tokenized]) <= bound  # never the whole answer
    # the most recent text is what the model reads, before the readout suffix
    suffix = scorer.prompt.suffix_ids()
    assert ids[-len(suffix) - 40 : -len(suffix)] == scorer.prompt.answer_ids(answer[-40:])


def test_stream_checkpoints_tokenize_only_new_text(tiny: Any, tokenized: list[int]) -> None:
    model, tokenizer = tiny
    scorer = FineCEScorer(model, tokenizer, max_input_tokens=4096)
    session = scorer.open_session(QUESTION)
    for _ in range(120):
        session.append(LINE)
        session.score()
    # the first checkpoints read the whole (short) answer; after that, the new line and a
    # seam of a few tokens: never the answer so far
    assert max(tokenized[4:]) <= len(LINE) + 64
    session.close()


class _RecordingModel:
    """Delegates to a model and records the attention width (cached + new) of every call."""

    def __init__(self, model: Any, widths: list[int]) -> None:
        self._model = model
        self._widths = widths

    def __call__(self, **kwargs: Any) -> Any:
        mask = kwargs.get("attention_mask")
        if mask is not None:
            self._widths.append(int(mask.shape[1]))
        return self._model(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def test_a_moved_window_does_not_attend_to_stale_slots(tiny: Any) -> None:
    model, tokenizer = tiny
    widths: list[int] = []
    scorer = FineCEScorer(_RecordingModel(model, widths), tokenizer, max_input_tokens=400)
    session = scorer.open_session(QUESTION)
    for _ in range(12):  # each checkpoint brings more than a window of new text
        session.append(LINE * 14)
        session.score()
    assert session.truncated_tokens > 0
    # question, window and readout: the slots the moved window left behind take no part
    assert max(widths) <= 400 + 64
    session.close()


def test_stream_past_the_character_window_matches_one_estimate(tiny: Any) -> None:
    model, tokenizer = tiny
    scorer = FineCEScorer(model, tokenizer, max_input_tokens=64)  # a 1,024-character window
    session = scorer.open_session(QUESTION)
    answer = ""
    for i in range(90):
        piece = f"{LINE[:-1]} now {i * 7}.\n"
        answer += piece
        session.append(piece)
        if i % 15 == 14:
            assert session.score() == pytest.approx(scorer.score(QUESTION, answer), abs=1e-4)
            assert session.truncated_tokens == scorer.input_ids(QUESTION, answer)[1]
    assert len(answer) > 2 * CHARS_PER_TOKEN_CAP * 64
    session.close()


def test_value_head_estimates_tokenize_a_bounded_tail(tiny: Any) -> None:
    import torch

    from guardrail.scorers.value_head import ValueHeadScorer

    model, tokenizer = tiny
    calls: list[int] = []
    head = torch.nn.Linear(model.config.hidden_size, 1)
    scorer = ValueHeadScorer(model, _Counting(tokenizer, calls), head, max_length=700)
    session = scorer.open_session(QUESTION)
    for _ in range(3):
        session.append(LINE * 10_000)  # 340 kB a checkpoint
        assert 0.0 <= session.score() <= 1.0
    assert max(calls) <= CHARS_PER_TOKEN_CAP * 700  # the question, and no whole answer
    session.close()
