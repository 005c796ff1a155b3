"""The guardrail-local litellm provider on the tiny random Llama, through litellm's own API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import litellm
import pytest

from guardrail.generation import LocalGenerator, render_chat
from guardrail.integrations.litellm.provider import (
    DEFAULT_MODEL_REF,
    PROVIDER,
    LocalModelProvider,
    register_local_provider,
)

# litellm imports its GitHub Copilot module on the first completion, and pydantic warns about its
# ReadOnly TypedDict fields: third-party noise (a pyproject filterwarnings entry would cover
# every test; until then it is silenced here).
pytestmark = pytest.mark.filterwarnings("ignore:Items? .*`ReadOnly` qualifier:UserWarning")

MESSAGES = [{"role": "user", "content": "hello"}]
# Sampled with a seed: the tiny random model's greedy answer is one repeated character.
SAMPLED: dict[str, Any] = {"temperature": 1.0, "seed": 3, "max_tokens": 12}


@pytest.fixture(autouse=True)
def quiet_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm, "suppress_debug_info", True)


@pytest.fixture
def provider(tiny_generator: LocalGenerator) -> LocalModelProvider:
    return register_local_provider({"tiny": tiny_generator})


def expected_steps(generator: LocalGenerator, **options: Any) -> list[Any]:
    prompt = render_chat(generator.tokenizer, MESSAGES)
    return list(generator.stream(prompt, **options))


def test_registration_is_idempotent(provider: LocalModelProvider) -> None:
    assert register_local_provider() is provider
    entries = [e for e in litellm.custom_provider_map if e["provider"] == PROVIDER]
    assert entries == [{"provider": PROVIDER, "custom_handler": provider}]


def test_completion_returns_text_logprobs_and_usage(
    provider: LocalModelProvider, tiny_generator: LocalGenerator
) -> None:
    response = litellm.completion(
        model="guardrail-local/tiny", messages=MESSAGES, logprobs=True, top_logprobs=2, **SAMPLED
    )
    steps = expected_steps(
        tiny_generator, max_new_tokens=12, temperature=1.0, seed=3, top_logprobs=2
    )
    choice = response.choices[0]
    assert choice.message.content == "".join(step.text for step in steps)
    assert choice.finish_reason == "length"
    content = choice.logprobs.model_dump()["content"]
    assert content == [step.openai_logprob() for step in steps]
    assert response.usage.completion_tokens == 12
    assert response.usage.prompt_tokens > 0
    assert response.model == "tiny"


def test_logprobs_only_when_asked(provider: LocalModelProvider) -> None:
    response = litellm.completion(model="guardrail-local/tiny", messages=MESSAGES, **SAMPLED)
    assert getattr(response.choices[0], "logprobs", None) is None
    plain = litellm.completion(
        model="guardrail-local/tiny", messages=MESSAGES, logprobs=True, **SAMPLED
    )
    assert all(e.top_logprobs == [] for e in plain.choices[0].logprobs.content)


def test_streamed_chunks_carry_their_tokens_logprobs(provider: LocalModelProvider) -> None:
    full = litellm.completion(
        model="guardrail-local/tiny", messages=MESSAGES, logprobs=True, top_logprobs=3, **SAMPLED
    )
    chunks = list(
        litellm.completion(
            model="guardrail-local/tiny",
            messages=MESSAGES,
            stream=True,
            logprobs=True,
            top_logprobs=3,
            **SAMPLED,
        )
    )
    body = [c for c in chunks if c.choices[0].delta.content]
    assert "".join(c.choices[0].delta.content for c in body) == full.choices[0].message.content
    streamed = [e.model_dump() for c in body for e in c.choices[0].logprobs.content]
    assert streamed == full.choices[0].logprobs.model_dump()["content"]
    assert all(len(e["top_logprobs"]) == 3 for e in streamed)
    assert chunks[-1].choices[0].finish_reason == "length"
    assert len({c.id for c in chunks}) == 1


def test_stop_strings_are_cut_and_never_streamed(provider: LocalModelProvider) -> None:
    full = litellm.completion(model="guardrail-local/tiny", messages=MESSAGES, **SAMPLED)
    text = full.choices[0].message.content
    stop = text[4:6]
    expected = text[: text.find(stop)]
    for given in (stop, [stop, "never there"]):
        cut = litellm.completion(
            model="guardrail-local/tiny", messages=MESSAGES, stop=given, **SAMPLED
        )
        assert cut.choices[0].message.content == expected
        assert cut.choices[0].finish_reason == "stop"
    pieces = [
        c.choices[0].delta.content or ""
        for c in litellm.completion(
            model="guardrail-local/tiny",
            messages=MESSAGES,
            stop=[stop],
            stream=True,
            logprobs=True,
            **SAMPLED,
        )
    ]
    assert "".join(pieces) == expected
    assert not any(stop in piece for piece in pieces)


async def test_acompletion_streamed_and_not(provider: LocalModelProvider) -> None:
    full = litellm.completion(
        model="guardrail-local/tiny", messages=MESSAGES, logprobs=True, **SAMPLED
    )
    response = await litellm.acompletion(
        model="guardrail-local/tiny", messages=MESSAGES, logprobs=True, **SAMPLED
    )
    assert response.choices[0].message.content == full.choices[0].message.content
    assert response.choices[0].logprobs == full.choices[0].logprobs
    stream = await litellm.acompletion(
        model="guardrail-local/tiny", messages=MESSAGES, stream=True, logprobs=True, **SAMPLED
    )
    chunks = [chunk async for chunk in stream]
    body = [c for c in chunks if c.choices[0].delta.content]
    assert "".join(c.choices[0].delta.content for c in body) == full.choices[0].message.content
    assert [e for c in body for e in c.choices[0].logprobs.content] == (
        full.choices[0].logprobs.content
    )
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_async_stream_computes_nothing_ahead_of_the_consumer(
    make_recording: Callable[..., Any],
) -> None:
    generator = make_recording()
    register_local_provider({"recording": generator})
    stream = await litellm.acompletion(
        model="guardrail-local/recording",
        messages=MESSAGES,
        stream=True,
        temperature=1.0,
        seed=5,
        max_tokens=200,
    )
    taken = 0
    async for chunk in stream:
        taken += bool(chunk.choices[0].delta.content)
        if taken == 3:
            break
    assert generator.steps <= 4


def test_text_parts_are_joined(provider: LocalModelProvider) -> None:
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}],
        }
    ]
    joined = litellm.completion(model="guardrail-local/tiny", messages=parts, **SAMPLED)
    plain = litellm.completion(model="guardrail-local/tiny", messages=MESSAGES, **SAMPLED)
    assert joined.choices[0].message.content == plain.choices[0].message.content


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"n": 2}, "n=1"),
        ({"top_logprobs": 2}, "requires logprobs"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "text message content only",
        ),
    ],
)
def test_unsupported_requests_are_bad_requests(
    provider: LocalModelProvider, options: dict[str, Any], match: str
) -> None:
    request = {"model": "guardrail-local/tiny", "messages": MESSAGES, **options}
    with pytest.raises(litellm.BadRequestError, match=match):
        litellm.completion(**request)


def test_unknown_model_is_not_found(provider: LocalModelProvider) -> None:
    with pytest.raises(litellm.NotFoundError, match="model path not found"):
        litellm.completion(model="guardrail-local/./no/such/model", messages=MESSAGES)


def test_names_resolve_to_model_references(
    monkeypatch: pytest.MonkeyPatch, tiny_generator: LocalGenerator
) -> None:
    loaded: list[tuple[str, str, str]] = []

    def from_ref(ref: str, *, device: str = "auto", dtype: str = "auto") -> LocalGenerator:
        loaded.append((ref, device, dtype))
        return tiny_generator

    monkeypatch.setattr(LocalGenerator, "from_ref", staticmethod(from_ref))
    local = LocalModelProvider(device="cpu", dtype="float32")  # not registered: no leaks
    local.add_model("mine", "/models/mine")
    for name in ("smollm2", "smollm2", "builtin:other", "/abs/dir", "mine"):
        assert local.generator_for(name) is tiny_generator
    assert loaded == [
        (DEFAULT_MODEL_REF, "cpu", "float32"),
        ("builtin:other", "cpu", "float32"),
        ("/abs/dir", "cpu", "float32"),
        ("/models/mine", "cpu", "float32"),
    ]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "user", "content": ["not a part"]}]}, "text message content"),
        ({"max_tokens": -1}, "max_tokens must be >= 1"),
    ],
)
def test_bad_requests_are_answered_400_before_generating(
    provider: LocalModelProvider, options: dict[str, Any], match: str
) -> None:
    request = {"model": "guardrail-local/tiny", "messages": MESSAGES, **options}
    with pytest.raises(litellm.BadRequestError, match=match):
        litellm.completion(**request)


def test_a_prompt_over_the_context_window_is_a_bad_request(
    provider: LocalModelProvider, tiny_generator: LocalGenerator
) -> None:
    window = tiny_generator.context_window
    assert window is not None
    messages = [{"role": "user", "content": "word " * (window * 2)}]
    with pytest.raises(litellm.BadRequestError, match="context window"):
        litellm.completion(model="guardrail-local/tiny", messages=messages, stream=True)


def test_the_proxy_can_name_the_shipped_provider_by_module_path(
    tiny_generator: LocalGenerator,
) -> None:
    from litellm.proxy.types_utils.utils import get_instance_fn

    handler = get_instance_fn("guardrail.integrations.litellm.embedded.provider")
    assert isinstance(handler, LocalModelProvider)
    assert handler is register_local_provider()  # one provider, however it was reached
    handler.add_model("tiny-by-path", tiny_generator)
    litellm.custom_provider_map = [{"provider": PROVIDER, "custom_handler": handler}]
    response = litellm.completion(
        model="guardrail-local/tiny-by-path", messages=MESSAGES, **SAMPLED
    )
    assert response.choices[0].message.content
