"""Incremental answer tokenization equals tokenizing the whole window, on random streams."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrail.scorers.answer_tokens import (
    CHARS_PER_TOKEN_CAP,
    AnswerEncoder,
    AnswerTokens,
    char_window_start,
    window_ids,
)
from guardrail.scorers.sanitize import normalize_text

ALPHABET = [
    *"aaaeeinorst  \n\n\t.,:;!?'\"-0123456789",
    "the",
    " the",
    "ing ",
    "\r\n",
    "  ",
    "é",
    "漢字",
    "😀",
    "\ud83d",  # half of a surrogate pair ...
    "\ude00",  # ... and the other half, so pairs may be split across appends
    "\x1b[31m",
    "<|im_end|>",
    "<|im_start|>",
]

STREAMS = st.lists(
    st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=12).map("".join),
    min_size=1,
    max_size=40,
)


def _bpe_tokenizer(metaspace: bool) -> Any:
    """A small BPE trained in-process: byte-level with GPT-2 splits, or metaspace with none."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        "the answer is the sum of the parts; then add the rest. 12 + 30 = 42.\n\n",
        "Thinking step by step: the running total is 17, then 25, then 42.\n",
        "é漢字😀 naïve café, ångström\n  indented line\n\tTabbed line\n",
    ] * 20
    core = Tokenizer(models.BPE(unk_token="<unk>" if metaspace else None))
    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    if metaspace:
        core.pre_tokenizer = pre_tokenizers.Metaspace(split=False)
        core.decoder = decoders.Metaspace()
        alphabet: list[str] = []
    else:
        core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        core.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=alphabet, show_progress=False
    )
    core.train_from_iterator(corpus, trainer)
    tokenizer_class: Any = PreTrainedTokenizerFast
    return tokenizer_class(
        tokenizer_object=core, unk_token="<unk>", bos_token="<|im_start|>", eos_token="<|im_end|>"
    )


@pytest.fixture(scope="module", params=["tiny", "byte-level BPE", "metaspace BPE"])
def tokenizer(request: pytest.FixtureRequest) -> Any:
    if request.param == "tiny":
        from guardrail.testing.tiny import tiny_tokenizer

        return tiny_tokenizer()
    return _bpe_tokenizer(metaspace=request.param == "metaspace BPE")


def _reference(tokenizer: Any, text: str) -> list[int]:
    """What the prompt's answer_ids tokenization gives for ``text`` (already normalised)."""
    if not text:
        return []
    ids = tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    return list(ids)


def _check_stream(tokenizer: Any, pieces: list[str], checkpoints: list[bool], cap: int) -> None:
    encoder = AnswerEncoder(tokenizer)
    stream = AnswerTokens(encoder, cap)
    text = ""
    for piece, check in zip(pieces, checkpoints, strict=False):
        stream.append(piece)
        text += piece
        if check:
            window = stream.window()
            start = char_window_start(len(text), cap)
            assert window.start == start
            assert list(window.ids) == _reference(tokenizer, normalize_text(text[start:]))
            assert list(window.ids) == list(window_ids(encoder, text, cap).ids)
    window = stream.window()
    assert list(window.ids) == list(window_ids(encoder, text, cap).ids)
    assert stream.text == text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(STREAMS, st.lists(st.booleans(), min_size=40, max_size=40), st.sampled_from([4, 64]))
def test_stream_ids_equal_whole_window_tokenization(
    tokenizer: Any, pieces: list[str], checkpoints: list[bool], cap: int
) -> None:
    _check_stream(tokenizer, pieces, checkpoints, cap)


def test_checkpoints_tokenize_only_new_text(tokenizer: Any) -> None:
    """Past the first checkpoints, a checkpoint tokenizes its new text, not the answer."""
    encoder = AnswerEncoder(tokenizer)
    calls: list[int] = []
    encode = encoder.encode

    def counting(text: str) -> Any:
        calls.append(len(text))
        return encode(text)

    encoder.encode = counting  # type: ignore[method-assign]
    stream = AnswerTokens(encoder, 4096)
    piece = "the running total is 17, then add 25 to it.\n"
    for _ in range(200):
        stream.append(piece)
        stream.window()
    assert len(stream.text) == 200 * len(piece)
    incremental = calls[-100:]
    if tokenizer.backend_tokenizer.pre_tokenizer.__class__.__name__ == "Metaspace":
        assert stream.full_encodes > 0  # no stable seam without a split: bounded full re-reads
    else:
        assert stream.full_encodes <= 2
        assert max(incremental) < 8 * len(piece)  # the new text plus a short overlap


def test_one_estimate_reads_a_bounded_tail(tokenizer: Any) -> None:
    encoder = AnswerEncoder(tokenizer)
    answer = "the running total is 17, then add 25.\n" * 20_000  # 760k characters
    window = window_ids(encoder, answer, 64)
    assert window.start > 0
    assert window.window_chars <= CHARS_PER_TOKEN_CAP * 64
    assert window.cut_tokens > 0
    assert list(window.ids) == _reference(tokenizer, answer[window.start :])


@pytest.mark.slow
def test_embedded_tokenizer_streams_match_whole_tokenization(embedded: Any) -> None:
    import random

    rng = random.Random(7)
    for cap in (4, 64):
        pieces = ["".join(rng.choices(ALPHABET, k=rng.randint(1, 12))) for _ in range(300)]
        checks = [rng.random() < 0.5 for _ in pieces]
        _check_stream(embedded.tokenizer, pieces, checks, cap)
