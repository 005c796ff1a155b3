"""LiteLLMGenerator against litellm's own mock responses (no network)."""

from __future__ import annotations

from typing import Any

import litellm
import pytest

from guardrail.lab.data import GenerationError, Generator, LiteLLMGenerator, Prompt

PROMPTS = [
    Prompt(({"role": "user", "content": "What is 2 + 3?"},)),
    Prompt(({"role": "user", "content": "What is 2 + 3?"},), prefix="2 + 3 = 5.\n"),
]
MOCK = {"mock_response": "The answer is 5."}


def test_implements_the_protocol() -> None:
    assert isinstance(LiteLLMGenerator("openai/fake"), Generator)


def test_n_completions_per_prompt_from_mock_responses() -> None:
    generator = LiteLLMGenerator("openai/fake", options=MOCK)
    results = generator.sample(PROMPTS, 3, temperature=1.0, max_new_tokens=20, seed=1)
    assert [[c.text for c in row] for row in results] == [["The answer is 5."] * 3] * 2
    assert all(c.tokens > 0 and c.finish_reason == "stop" for row in results for c in row)
    assert generator.name == "litellm:openai/fake"


def _recording(
    monkeypatch: pytest.MonkeyPatch, fail: list[Exception] | None = None
) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = litellm.completion
    failures = list(fail or [])

    def completion(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if failures:
            raise failures.pop(0)
        return real(**kwargs)

    monkeypatch.setattr(litellm, "completion", completion)
    return calls


def test_prefix_is_sent_as_an_assistant_message_to_continue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recording(monkeypatch)
    generator = LiteLLMGenerator("openai/fake", options=MOCK, max_workers=1)
    generator.sample(PROMPTS, 2, max_new_tokens=7, stop=["\nQuestion:"])
    first, second = calls
    assert first["messages"] == list(PROMPTS[0].messages)
    assert second["messages"][-1] == {"role": "assistant", "content": "2 + 3 = 5.\n"}
    assert first["n"] == 2
    assert first["max_tokens"] == 7
    assert first["stop"] == ["\nQuestion:"]
    assert "seed" not in first


def test_without_n_it_repeats_calls_with_distinct_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recording(monkeypatch)
    generator = LiteLLMGenerator("openai/fake", options=MOCK, use_n=False, max_workers=1)
    results = generator.sample(PROMPTS[:1], 3, seed=10)
    assert len(results[0]) == 3
    assert len(calls) == 3
    assert "n" not in calls[0]
    assert len({call["seed"] for call in calls}) == 3


def test_transient_errors_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    rate_limited = litellm.RateLimitError("slow down", llm_provider="openai", model="fake")
    calls = _recording(monkeypatch, fail=[rate_limited, rate_limited])
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda seconds: None)
    generator = LiteLLMGenerator("openai/fake", options=MOCK, retries=2)
    assert generator.sample(PROMPTS[:1], 2)[0][0].text == "The answer is 5."
    assert len(calls) == 3


def test_exhausted_or_permanent_errors_raise_generation_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda seconds: None)
    rate_limited = litellm.RateLimitError("slow down", llm_provider="openai", model="fake")
    _recording(monkeypatch, fail=[rate_limited] * 3)
    with pytest.raises(GenerationError, match="RateLimitError") as caught:
        LiteLLMGenerator("openai/fake", options=MOCK, retries=1).sample(PROMPTS[:1], 1)
    assert caught.value.is_retryable
    bad = litellm.BadRequestError("no such model", llm_provider="openai", model="fake")
    calls = _recording(monkeypatch, fail=[bad])
    with pytest.raises(GenerationError) as caught:
        LiteLLMGenerator("openai/fake", options=MOCK, retries=3).sample(PROMPTS[:1], 1)
    assert not caught.value.is_retryable
    assert len(calls) == 1  # not retried
