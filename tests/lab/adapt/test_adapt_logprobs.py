"""Shared-prefix logprobs give what a full teacher-forced pass gives, for every prompt."""

from __future__ import annotations

from typing import Any

import pytest

from guardrail.generation import LocalGenerator
from guardrail.lab.adapt.logprobs import SharedPrefixLogprobs
from guardrail.lab.tasks import get_task


@pytest.mark.parametrize("answers", [("Paris.", "The answer is 8.", "x")])
def test_the_cached_prefix_changes_no_logprob(
    tiny: tuple[Any, Any], answers: tuple[str, ...]
) -> None:
    model, tokenizer = tiny
    generator = LocalGenerator(model, tokenizer, name="tiny")
    shared = SharedPrefixLogprobs(generator, top_logprobs=3)
    task = get_task("facts")
    questions = ["What is the capital of France?", "Which element has the symbol Fe?"]
    for question in questions:
        messages = task.prompt(question)
        for answer in answers:
            full = generator.token_logprobs(messages, answer, top_logprobs=3)
            cached = shared.token_logprobs(messages, answer)
            assert [t.token for t in cached] == [t.token for t in full]
            for a, b in zip(cached, full, strict=True):
                assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
                assert [x for x, _ in a.top] == [x for x, _ in b.top]
    assert shared.cached_calls == len(questions) * len(answers)
