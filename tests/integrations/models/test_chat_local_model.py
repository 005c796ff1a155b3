"""ChatLocalModel on the tiny random Llama: real tokens, real logprobs, stop strings, async."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from guardrail.generation import LocalGenerator, TokenStep, render_chat
from guardrail.integrations.langchain.chat_model import DEFAULT_MODEL_REF, ChatLocalModel

# Sampled with a seed: the tiny random model's greedy answer is one repeated character.
SAMPLED = {"temperature": 1.0, "seed": 7, "max_tokens": 16}


class ChunkRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.chunks: list[Any] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.chunks.append(chunk)


@pytest.fixture
def chat(tiny_generator: LocalGenerator) -> ChatLocalModel:
    return ChatLocalModel(generator=tiny_generator, **SAMPLED)


def reference_steps(generator: LocalGenerator, prompt: str, **options: Any) -> list[Any]:
    chat = [{"role": "user", "content": prompt}]
    return list(generator.stream(render_chat(generator.tokenizer, chat), **options))


def test_invoke_returns_the_generators_tokens_and_logprobs(
    chat: ChatLocalModel, tiny_generator: LocalGenerator
) -> None:
    message = chat.invoke("hello")
    steps = reference_steps(
        tiny_generator, "hello", max_new_tokens=16, temperature=1.0, seed=7, top_logprobs=5
    )
    assert message.content == "".join(step.text for step in steps)
    entries = message.response_metadata["logprobs"]["content"]
    assert entries == [step.openai_logprob() for step in steps]
    assert all(len(entry["top_logprobs"]) == 5 for entry in entries)
    assert message.response_metadata["finish_reason"] == "length"
    assert message.response_metadata["model_name"] == "tiny"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 16


def test_model_name_and_identity() -> None:
    assert ChatLocalModel().model_name == DEFAULT_MODEL_REF  # nothing loaded yet
    named = ChatLocalModel(model="builtin:other", temperature=0.3)
    assert named.model_name == "builtin:other"
    assert named._llm_type == "guardrail-local"
    assert named._identifying_params["temperature"] == 0.3
    ls = named._get_ls_params()
    assert (ls["ls_provider"], ls["ls_model_name"]) == ("guardrail-local", "builtin:other")


def test_generator_name_is_the_default_model_name(tiny_generator: LocalGenerator) -> None:
    assert ChatLocalModel(generator=tiny_generator).model_name == "tiny"
    assert ChatLocalModel(generator=tiny_generator, model_name="mine").model_name == "mine"


def test_stream_chunks_carry_logprobs_in_both_places(chat: ChatLocalModel) -> None:
    recorder = ChunkRecorder()
    chunks = list(chat.stream("hello", config={"callbacks": [recorder]}))
    assert "".join(str(c.content) for c in chunks) == chat.invoke("hello").content
    body, last = chunks[:-1], chunks[-1]
    assert all(c.content and c.response_metadata["logprobs"]["content"] for c in body)
    assert sum(len(c.response_metadata["logprobs"]["content"]) for c in body) == 16
    entry = body[0].response_metadata["logprobs"]["content"][0]
    assert set(entry) == {"token", "logprob", "bytes", "top_logprobs"}
    assert set(entry["top_logprobs"][0]) == {"token", "logprob", "bytes"}
    assert last.content == ""
    assert last.chunk_position == "last"
    assert last.response_metadata["finish_reason"] == "length"
    infos = [c.generation_info for c in recorder.chunks if c.text]
    assert [i["logprobs"] for i in infos] == [c.response_metadata["logprobs"] for c in body]


def test_call_options_override_the_instance(
    chat: ChatLocalModel, tiny_generator: LocalGenerator
) -> None:
    short = chat.invoke("hello", max_tokens=3, top_logprobs=2)
    assert short.usage_metadata is not None
    assert short.usage_metadata["output_tokens"] == 3
    assert all(len(e["top_logprobs"]) == 2 for e in short.response_metadata["logprobs"]["content"])
    greedy = chat.invoke("hello", temperature=0.0)
    steps = reference_steps(tiny_generator, "hello", max_new_tokens=16)
    assert greedy.content == "".join(step.text for step in steps)
    assert chat.invoke("hello", seed=8).content != chat.invoke("hello").content
    assert chat.bind(seed=8).invoke("hello").content == chat.invoke("hello", seed=8).content


def test_unknown_call_options_are_refused(chat: ChatLocalModel) -> None:
    with pytest.raises(TypeError, match=r"\['frequency_penalty'\]"):
        chat.invoke("hello", frequency_penalty=0.5)


def test_chat_roles_reach_the_template(tiny_generator: LocalGenerator) -> None:
    seen: list[str] = []

    class Capturing(LocalGenerator):
        def stream(self, messages: Any, **options: Any) -> Any:
            seen.append(messages)
            return iter(())

    capturing = Capturing(tiny_generator.model, tiny_generator.tokenizer)
    ChatLocalModel(generator=capturing).invoke(
        [SystemMessage("sys"), HumanMessage("hi"), AIMessage("yo"), HumanMessage("again")]
    )
    assert seen == [
        "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\nyo<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n"
        "<|im_start|>assistant\n"
    ]


def test_stop_string_ends_the_answer_and_is_never_streamed(chat: ChatLocalModel) -> None:
    full = str(chat.invoke("hello").content)
    stop = full[6:8]
    expected = full[: full.find(stop)]

    message = chat.invoke("hello", stop=[stop])
    assert message.content == expected
    assert message.response_metadata["finish_reason"] == "stop"
    assert len(message.response_metadata["logprobs"]["content"]) <= full.find(stop) + 1

    chunks = [str(c.content) for c in chat.stream("hello", stop=["no such stop", stop])]
    assert "".join(chunks) == expected
    assert not any(stop in c for c in chunks)

    instance_stop = ChatLocalModel(generator=chat.generator, stop=[stop], **SAMPLED)
    assert instance_stop.invoke("hello").content == expected
    assert instance_stop.invoke("hello", stop=[]).content == full  # a call's stop replaces it


class ScriptedGenerator(LocalGenerator):
    """Yields scripted tokens and stops like LocalGenerator: after the token completing a stop."""

    def __init__(self, tokens: list[str], tokenizer: Any) -> None:
        super().__init__(model=None, tokenizer=tokenizer, name="scripted")
        self.tokens = tokens

    def stream(self, messages: Any, **options: Any) -> Any:
        text = ""
        for token in self.tokens[: options["max_new_tokens"]]:
            text += token
            yield TokenStep(text=token, token_id=0, token=token, logprob=-0.5)
            if any(s in text for s in options["stop"]):
                return


def first_stop_cut(tokens: list[str], stops: list[str]) -> str | None:
    """The answer OpenAI semantics give: cut at the first stop seen after a whole token."""
    text = ""
    for token in tokens:
        text += token
        found = [text.find(s) for s in stops if s and s in text]
        if found:
            return text[: min(found)]
    return None


@settings(max_examples=150, deadline=None)
@given(
    tokens=st.lists(st.text(alphabet="ab\n", min_size=1, max_size=3), max_size=10),
    stops=st.lists(st.text(alphabet="ab\n", min_size=1, max_size=3), max_size=2),
)
def test_stop_strings_cut_any_token_split(
    tiny_generator: LocalGenerator, tokens: list[str], stops: list[str]
) -> None:
    generator = ScriptedGenerator(tokens, tiny_generator.tokenizer)
    chat = ChatLocalModel(generator=generator, max_tokens=20)
    cut = first_stop_cut(tokens, stops)
    expected = "".join(tokens) if cut is None else cut
    chunks = list(chat.stream("q", stop=stops))
    pieces = [str(c.content) for c in chunks]
    assert "".join(pieces) == expected
    entries = [
        e for c in chunks for e in c.response_metadata.get("logprobs", {}).get("content", [])
    ]
    assert len(entries) <= len(tokens)
    if cut is None:
        assert [e["token"] for e in entries] == tokens  # nothing held back at the end
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    assert all(p for p in pieces[:-1])  # every chunk but the last carries text


async def test_astream_ainvoke_and_abatch_match_sync(chat: ChatLocalModel) -> None:
    expected = chat.invoke("hello").content
    chunks = [c async for c in chat.astream("hello")]
    assert "".join(str(c.content) for c in chunks) == expected
    assert chunks[-1].response_metadata["finish_reason"] == "length"
    assert chunks[0].response_metadata["logprobs"]["content"]
    message = await chat.ainvoke("hello")
    assert message.content == expected
    assert len(message.response_metadata["logprobs"]["content"]) == 16
    batched = await chat.abatch(["hello", "bye"])
    assert [m.content for m in batched] == [expected, chat.invoke("bye").content]


def test_batch_matches_single_calls(chat: ChatLocalModel) -> None:
    prompts = ["one", "two", "three"]
    assert [m.content for m in chat.batch(prompts)] == [chat.invoke(p).content for p in prompts]


async def test_astream_runs_the_model_off_the_event_loop(
    make_recording: Callable[..., Any],
) -> None:
    gate = threading.Event()
    generator = make_recording(gate=gate)
    chat = ChatLocalModel(generator=generator, max_tokens=4)

    async def open_gate() -> None:
        gate.set()  # runs only if the loop is free while the first step waits for it

    opener = asyncio.create_task(open_gate())
    chunks = [c async for c in chat.astream("hello")]
    await opener
    assert not generator.gate_timed_out
    assert generator.steps == 4
    assert chunks[-1].response_metadata["finish_reason"] == "length"


async def test_generation_stops_when_the_consumer_stops(
    make_recording: Callable[..., Any],
) -> None:
    generator = make_recording()
    chat = ChatLocalModel(generator=generator, max_tokens=200, temperature=1.0, seed=1)
    async with aclosing(chat.astream("hello")) as stream:
        taken = 0
        async for _ in stream:
            taken += 1
            if taken == 3:
                break
    for _ in range(200):
        if generator.closed.is_set():
            break
        await asyncio.sleep(0.01)
    assert generator.closed.is_set()
    assert generator.steps <= 4


async def test_cancelling_mid_step_closes_the_generation_after_that_step(
    make_recording: Callable[..., Any],
) -> None:
    gate = threading.Event()
    generator = make_recording(gate=gate)
    chat = ChatLocalModel(generator=generator, max_tokens=200)

    async def consume() -> None:
        async for _ in chat.astream("hello"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)  # the first step is now waiting for the gate in its thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not generator.closed.is_set()
    gate.set()
    assert await asyncio.to_thread(generator.closed.wait, 10)
    assert generator.steps == 1


def test_missing_extras_name_the_extra() -> None:
    code = (
        "import sys\n"
        "from guardrail.errors import MissingExtraError\n"
        "for blocked, module in [\n"
        "    ('langchain_core', 'guardrail.integrations.langchain.chat_model'),\n"
        "    ('litellm', 'guardrail.integrations.litellm.provider'),\n"
        "]:\n"
        "    sys.modules[blocked] = None\n"
        "    try:\n"
        "        __import__(module)\n"
        "    except MissingExtraError as exc:\n"
        "        print(exc.extra)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["langchain", "litellm"]
