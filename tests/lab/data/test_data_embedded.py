"""The data pipeline on the real embedded model (SmolLM2-135M), a handful of questions."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from guardrail.generation import LocalGenerator
from guardrail.lab.data import (
    BuildConfig,
    LabelStore,
    LocalBatchGenerator,
    Prompt,
    build,
    read_records,
)
from guardrail.lab.tasks import SyntheticArithmeticTask

pytestmark = pytest.mark.slow


def test_batched_greedy_with_shared_prefix_equals_one_by_one(embedded: Any) -> None:
    task = SyntheticArithmeticTask((1,))
    items = list(itertools.islice(task.items(), 2))
    prompts = [Prompt(tuple(task.prompt(item.question))) for item in items]
    prompts.append(
        Prompt(prompts[0].messages, prefix=items[0].metadata["solution"].split("\n")[0] + "\n")
    )
    generator = LocalBatchGenerator(embedded.model, embedded.tokenizer)
    batched = generator.sample(prompts, 1, temperature=0.0, max_new_tokens=40, stop=task.stop)
    single = LocalGenerator(embedded.model, embedded.tokenizer)
    for prompt, (completion,) in zip(prompts, batched, strict=True):
        text = single.generate(
            generator.render(prompt), max_new_tokens=40, stop=task.stop, top_logprobs=0
        )
        assert completion.text == text.split("\n\n")[0]
    assert any(
        task.check(c.text, item.reference) for (c,), item in zip(batched, items, strict=False)
    )


def test_build_two_questions(embedded: Any, tmp_path: Path) -> None:
    task = SyntheticArithmeticTask((1, 2))
    items = list(itertools.islice(task.items(), 2))
    generator = LocalBatchGenerator(embedded.model, embedded.tokenizer, name="embedded")
    config = BuildConfig(k=4, levels=1, max_clusters=2, temperature=0.7, max_new_tokens=64)
    path = tmp_path / "embedded.jsonl"
    with LabelStore(path, config.resume_key()) as store:
        report = build(task, generator, items, store, config, progress=False)
    records = read_records(path)
    assert report.built == 2
    assert report.tokens > 0
    kinds = [r["text_kind"] for r in records if r["type"] == "label"]
    assert kinds.count("question") == 2
    process = [r for r in records if r["type"] == "label" and r["text_kind"] == "process"]
    assert 1 <= len(process) <= 4
    assert kinds.count("outcome") == 4 * (2 + len(process))
    for label in process:
        assert label["prefix"].endswith("\n")
        assert 0.0 <= label["label"] <= 1.0
        assert label["n"] == 4
