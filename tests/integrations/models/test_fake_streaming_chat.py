"""FakeStreamingChatModel: scripted tokens with OpenAI-shaped logprobs, errors, async, records."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from pydantic import ValidationError

from guardrail.entropy import logprobs_entropy, parse_logprobs
from guardrail.testing.fake_chat import FakeStreamingChatModel, ScriptedResponse, split_tokens


class ChunkRecorder(BaseCallbackHandler):
    """Keeps the ChatGenerationChunks LangChain reports through on_llm_new_token."""

    def __init__(self) -> None:
        self.chunks: list[Any] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.chunks.append(chunk)


def test_split_tokens_keeps_whitespace_with_the_next_word() -> None:
    assert split_tokens("Paris is  big.\n") == ("Paris", " is", "  big.", "\n")
    assert "".join(split_tokens(" a\tb ")) == " a\tb "


def test_stream_yields_one_chunk_per_token_with_logprobs() -> None:
    model = FakeStreamingChatModel(responses=["Paris is the capital."])
    recorder = ChunkRecorder()
    chunks = list(model.stream("Capital of France?", config={"callbacks": [recorder]}))

    tokens = [c for c in chunks if c.content]
    assert [c.content for c in tokens] == ["Paris", " is", " the", " capital."]
    for chunk in tokens:
        (entry,) = chunk.response_metadata["logprobs"]["content"]
        assert entry["token"] == chunk.content
        assert entry["logprob"] == 0.0
        assert entry["bytes"] == list(chunk.content.encode())
        assert entry["top_logprobs"] == [
            {"token": chunk.content, "logprob": 0.0, "bytes": list(chunk.content.encode())}
        ]
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    # generation_info carries the same logprobs, as ChatOpenAI's chunks do
    infos = [c.generation_info for c in recorder.chunks if c.text]
    assert [info["logprobs"]["content"][0]["token"] for info in infos] == [
        c.content for c in tokens
    ]


def test_invoke_merges_the_logprobs_of_every_token() -> None:
    model = FakeStreamingChatModel(responses=[["Yes", ",", " sure"]], model="scripted-gpt")
    message = model.invoke("ok?")
    assert message.content == "Yes, sure"
    entries = message.response_metadata["logprobs"]["content"]
    assert [e["token"] for e in entries] == ["Yes", ",", " sure"]
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["model_name"] == "scripted-gpt"
    assert model.model_name == "scripted-gpt"


def test_entropy_script_is_what_the_guard_measures() -> None:
    entropies = (0.0, 0.5, 1.2)
    model = FakeStreamingChatModel(
        responses=[ScriptedResponse(tokens="one two three", entropies=entropies)], top_logprobs=3
    )
    chunks = [c for c in model.stream("q") if c.content]
    measured = [logprobs_entropy(c.response_metadata["logprobs"]) for c in chunks]
    assert measured == pytest.approx(entropies, abs=1e-9)
    top = chunks[1].response_metadata["logprobs"]["content"][0]["top_logprobs"]
    assert [t["token"] for t in top] == [" two", "<alt1>", "<alt2>"]
    assert top[0]["logprob"] >= top[1]["logprob"]  # the sampled token stays the most likely


@given(
    top_k=st.integers(min_value=0, max_value=20),
    fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_derived_logprobs_reproduce_any_reachable_entropy(top_k: int, fraction: float) -> None:
    entropy = fraction * math.log(max(top_k, 1) + 1)
    response = ScriptedResponse(tokens=["x"], entropies=[entropy])
    entry = response.logprob_entry(0, top_k)
    assert len(entry["top_logprobs"]) == top_k
    (parsed,) = parse_logprobs(entry)
    assert parsed.entropy() == pytest.approx(entropy, abs=1e-9)
    assert all(math.isfinite(t["logprob"]) for t in entry["top_logprobs"])


def test_unreachable_entropy_is_rejected() -> None:
    with pytest.raises(ValidationError, match="top_logprobs=1"):
        FakeStreamingChatModel(
            responses=[ScriptedResponse(tokens=["x"], entropies=[2.0])], top_logprobs=1
        )


def test_scripted_logprobs_and_alternatives_pass_through() -> None:
    response = ScriptedResponse(
        tokens=["A", "B"],
        top_logprobs=[[("A", -0.1), ("C", -2.5)], [("D", -0.5), ("B", -1.0)]],
        logprobs=None,
    )
    model = FakeStreamingChatModel(responses=[response])
    entries = model.invoke("q").response_metadata["logprobs"]["content"]
    assert [e["logprob"] for e in entries] == [-0.1, -1.0]  # looked up in the alternatives
    assert [[t["token"] for t in e["top_logprobs"]] for e in entries] == [["A", "C"], ["D", "B"]]

    explicit = FakeStreamingChatModel(responses=[{"tokens": ["Z"], "logprobs": [-3.0]}])
    (entry,) = explicit.invoke("q").response_metadata["logprobs"]["content"]
    assert entry["logprob"] == -3.0
    assert entry["top_logprobs"][0]["logprob"] == -3.0


@pytest.mark.parametrize(
    "bad",
    [
        {"tokens": ["a", "b"], "entropies": [0.1]},
        {"tokens": ["a"], "entropies": [0.1], "logprobs": [-0.1]},
        {"tokens": ["a"], "logprobs": [0.5]},
        {"tokens": ["a"], "entropies": [-1.0]},
        {"tokens": []},
        {"tokens": ["a"], "typo": 1},
    ],
)
def test_inconsistent_scripts_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ScriptedResponse(**bad)


def test_running_out_of_responses_raises_or_cycles() -> None:
    strict = FakeStreamingChatModel(responses=["one", "two"])
    assert [strict.invoke("q").content for _ in range(2)] == ["one", "two"]
    with pytest.raises(LookupError, match="all 2 scripted responses were used"):
        strict.invoke("q")

    cycling = FakeStreamingChatModel(responses=["one", "two"], when_exhausted="cycle")
    assert [cycling.invoke("q").content for _ in range(5)] == ["one", "two", "one", "two", "one"]


def test_error_after_tokens_fails_mid_stream() -> None:
    model = FakeStreamingChatModel(responses=["a b c d"], error_after_tokens=2)
    received: list[Any] = []
    with pytest.raises(RuntimeError, match="after 2 tokens"):
        received.extend(model.stream("q"))
    assert [c.content for c in received] == ["a", " b"]


def test_a_response_can_fail_on_its_own_and_a_retry_succeeds() -> None:
    model = FakeStreamingChatModel(
        responses=[ScriptedResponse(tokens="partial answer", error_after_tokens=1), "full answer"],
        error=TimeoutError("upstream timed out"),
    )
    with pytest.raises(TimeoutError, match="upstream timed out"):
        model.invoke([HumanMessage("first try")])
    assert model.invoke([HumanMessage("second try")]).content == "full answer"
    assert [[m.content for m in call] for call in model.calls] == [["first try"], ["second try"]]


def test_failure_after_the_last_token_comes_before_the_end_chunk() -> None:
    model = FakeStreamingChatModel(responses=["a b"], error_after_tokens=5)
    chunks: list[AIMessageChunk] = []
    with pytest.raises(RuntimeError, match="after 2 tokens"):
        chunks.extend(model.stream("q"))
    assert [c.content for c in chunks] == ["a", " b"]


def test_calls_record_the_messages_of_each_call() -> None:
    model = FakeStreamingChatModel(responses=["ok"], when_exhausted="cycle")
    model.invoke([SystemMessage("be brief"), HumanMessage("hi")])
    list(model.stream("again"))
    calls = model.calls
    assert [[type(m).__name__ for m in call] for call in calls] == [
        ["SystemMessage", "HumanMessage"],
        ["HumanMessage"],
    ]
    calls.clear()  # a copy: the record is unchanged
    assert len(model.calls) == 2


def test_concurrent_calls_each_get_their_own_response() -> None:
    responses = [f"answer {i}" for i in range(16)]
    model = FakeStreamingChatModel(responses=responses)
    outputs = model.batch([f"question {i}" for i in range(16)], config={"max_concurrency": 8})
    assert sorted(str(o.content) for o in outputs) == sorted(responses)
    assert len(model.calls) == 16


async def test_astream_with_delay_and_logprobs() -> None:
    model = FakeStreamingChatModel(
        responses=[ScriptedResponse(tokens="slow and steady", entropies=[0.2, 0.4, 0.6])],
        delay_s=0.01,
    )
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    chunks = [c async for c in model.astream("q")]
    ticker.cancel()
    tokens = [c for c in chunks if c.content]
    assert "".join(str(c.content) for c in tokens) == "slow and steady"
    measured = [logprobs_entropy(c.response_metadata["logprobs"]) for c in tokens]
    assert measured == pytest.approx([0.2, 0.4, 0.6])
    assert ticks > 0  # the delay is awaited, not slept


async def test_async_error_mid_stream_and_ainvoke() -> None:
    model = FakeStreamingChatModel(responses=["x y z", "fine"], error_after_tokens=1)
    seen: list[str] = []

    async def consume() -> None:
        async for chunk in model.astream("q"):
            seen.append(str(chunk.content))

    with pytest.raises(RuntimeError):
        await consume()
    assert seen == ["x"]
    with pytest.raises(RuntimeError):
        await model.ainvoke("q")
    assert len(model.calls) == 2


def test_missing_langchain_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "from guardrail.errors import MissingExtraError\n"
        "try:\n"
        "    import guardrail.testing.fake_chat\n"
        "except MissingExtraError as exc:\n"
        "    print(exc.extra)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "langchain"
