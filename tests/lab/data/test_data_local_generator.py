"""LocalBatchGenerator on the tiny random Llama: batching, the shared prefix, stops, limits."""

from __future__ import annotations

from typing import Any

import pytest

from guardrail.generation import LocalGenerator
from guardrail.lab.data import Completion, Generator, LocalBatchGenerator, Prompt

SYSTEM = {"role": "system", "content": "You answer questions. " * 3}
PROMPTS = [
    Prompt((SYSTEM, {"role": "user", "content": "What is 2 + 3?"})),
    Prompt((SYSTEM, {"role": "user", "content": "Tom has 4 coins. How many?"})),
    Prompt((SYSTEM, {"role": "user", "content": "What is 2 + 3?"}), prefix="Two plus three\n"),
]


def test_implements_the_protocol(tiny: tuple[Any, Any]) -> None:
    assert isinstance(LocalBatchGenerator(*tiny), Generator)


def test_greedy_batched_equals_one_by_one_streaming(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    batched = LocalBatchGenerator(model, tokenizer, max_batch=2)
    results = batched.sample(PROMPTS, 2, temperature=0.0, max_new_tokens=12)
    single = LocalGenerator(model, tokenizer)
    for prompt, completions in zip(PROMPTS, results, strict=True):
        expected = single.generate(batched.render(prompt), max_new_tokens=12, top_logprobs=0)
        assert [c.text for c in completions] == [expected, expected]


@pytest.mark.parametrize("max_batch", [1, 4, 64])
def test_shared_prefix_attention_matches_copied_prefix(
    tiny: tuple[Any, Any], max_batch: int
) -> None:
    model, tokenizer = tiny
    options = {"temperature": 1.0, "max_new_tokens": 16, "seed": 7}
    shared = LocalBatchGenerator(model, tokenizer, max_batch=max_batch, share_prefix=True)
    copied = LocalBatchGenerator(model, tokenizer, max_batch=max_batch, share_prefix=False)
    first = shared.sample(PROMPTS, 3, **options)  # type: ignore[arg-type]
    assert first == copied.sample(PROMPTS, 3, **options)  # type: ignore[arg-type]
    assert first == shared.sample(PROMPTS, 3, **options)  # same seed, cached prefix: same samples
    assert len({c.text for row in first for c in row}) > 3  # really sampled
    assert model.config._attn_implementation not in (None, "guardrail_shared_prefix")


def test_counts_limits_and_stops(tiny: tuple[Any, Any]) -> None:
    generator = LocalBatchGenerator(*tiny, max_batch=5)
    results = generator.sample(PROMPTS, 4, temperature=1.0, max_new_tokens=9, seed=1)
    assert [len(row) for row in results] == [4, 4, 4]
    for completion in (c for row in results for c in row):
        assert isinstance(completion, Completion)
        assert 0 <= completion.tokens <= 9
        assert completion.finish_reason == ("length" if completion.tokens == 9 else "stop")
    text = next(c.text for row in results for c in row if len(c.text) >= 4)
    stop = text[2:4]
    stopped = generator.sample(PROMPTS, 4, temperature=1.0, max_new_tokens=9, seed=1, stop=[stop])
    texts = [c.text for row in stopped for c in row]
    assert text[: text.find(stop)] in texts  # the same sample, cut before the stop string
    assert not any(stop in t for t in texts)
    assert generator.sample([], 3) == []
    assert generator.sample(PROMPTS, 0) == [[], [], []]


def test_throughput_is_measurable_without_timing_assertions(tiny: tuple[Any, Any]) -> None:
    """Batching's speed-up is measured by bench/generator.py; here only the accounting."""
    generator = LocalBatchGenerator(*tiny)
    results = generator.sample(PROMPTS, 8, temperature=1.0, max_new_tokens=6, seed=3)
    tokens = sum(c.tokens for row in results for c in row)
    assert 0 < tokens <= 3 * 8 * 6
