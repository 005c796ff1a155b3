"""The embedded model generating and scoring through guarded_completion, offline."""

from __future__ import annotations

from typing import Any

import pytest

from guardrail.integrations.litellm import guarded_completion, register_local_provider
from guardrail.runtime import GuardConfig

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def test_the_embedded_model_is_guarded_with_its_own_logprobs(embedded_scorer: Any) -> None:
    register_local_provider()
    policy = {
        "name": "embedded",
        "checkpoints": {"strategies": [{"type": "periodic", "every": 2}], "min_gap": 0},
        "rules": [{"name": "low", "when": {"confidence_below": 0.01}, "action": "flag"}],
    }
    config = GuardConfig(policy, embedded_scorer, latency_budget_s=None)
    chunks = list(
        guarded_completion(
            model="guardrail-local/smollm2",
            messages=QUESTION,
            policy=config,
            stream=True,
            max_tokens=40,
        )
    )
    final = chunks[-1].guardrail
    assert final["marker"] == "final"
    answer = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Paris" in answer
    events = final["attempts"][0]["events"]
    assert events
    assert 0.0 <= events[-1]["revised"] <= 1.0
    assert any(event["entropy"] is not None for event in events)  # the stream's logprobs
