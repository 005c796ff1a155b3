"""The real embedded model streaming an answer with logprobs through LangChain and litellm."""

from __future__ import annotations

import math
from typing import Any

import litellm
import pytest

from guardrail.integrations.langchain.chat_model import ChatLocalModel
from guardrail.integrations.litellm.provider import register_local_provider

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Items? .*`ReadOnly` qualifier:UserWarning"),
]

QUESTION = "What is the capital of France? Answer in one sentence."


def check_entries(entries: list[dict[str, Any]], top: int) -> None:
    assert entries
    for entry in entries:
        assert entry["logprob"] <= 0.0
        assert entry["bytes"] == list(entry["token"].encode())
        assert len(entry["top_logprobs"]) == top
        best = entry["top_logprobs"][0]["logprob"]
        assert math.isclose(entry["logprob"], best, abs_tol=1e-5)  # greedy: the top token


def test_embedded_model_streams_through_langchain(embedded: Any) -> None:
    chat = ChatLocalModel(max_tokens=40)  # the default: the embedded model, from load_model
    chunks = list(chat.stream(QUESTION))
    answer = "".join(str(c.content) for c in chunks)
    assert "Paris" in answer
    entries = [e for c in chunks[:-1] for e in c.response_metadata["logprobs"]["content"]]
    check_entries(entries, top=5)
    assert "".join(e["token"] for e in entries) == answer
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    assert chat.load().model is embedded.model  # shared with the scorer's load_model cache


def test_embedded_model_streams_through_litellm(embedded: Any) -> None:
    register_local_provider()
    chunks = list(
        litellm.completion(
            model="guardrail-local/smollm2",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            logprobs=True,
            top_logprobs=3,
            max_tokens=40,
        )
    )
    body = [c for c in chunks if c.choices[0].delta.content]
    answer = "".join(c.choices[0].delta.content for c in body)
    assert "Paris" in answer
    entries = [e.model_dump() for c in body for e in c.choices[0].logprobs.content]
    check_entries(entries, top=3)
    assert chunks[-1].choices[0].finish_reason == "stop"
    # the same greedy answer as through LangChain: one model, one chat template
    assert answer == ChatLocalModel(max_tokens=40).invoke(QUESTION).content
