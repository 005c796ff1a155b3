"""ChatLocalModel bounds its prompt by the model's context window; ls_model_name follows a call.

The tiny random Llama has a 4096-position window: a longer prompt fails at once with LangChain's
``ContextOverflowError`` (before any forward pass), and an answer stops where the window ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.exceptions import ContextOverflowError

from guardrail.generation import LocalGenerator, PromptTooLongError
from guardrail.integrations.langchain.chat_model import ChatLocalModel


def test_a_prompt_over_the_context_window_is_a_clear_error_not_a_hang(
    make_recording: Callable[..., Any],
) -> None:
    generator = make_recording()
    window = generator.context_window
    assert window is not None
    chat = ChatLocalModel(generator=generator, max_tokens=4)
    with pytest.raises(ContextOverflowError, match=rf"context window is {window} tokens"):
        chat.invoke("word " * (window * 2))
    assert generator.steps == 0  # refused before the model ran


def test_the_answer_stops_where_the_window_ends(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    generator = LocalGenerator(model, tokenizer, name="tiny")
    window = generator.context_window
    assert window is not None
    assert generator.room(window - 3, 50) == 3
    assert generator.room(10, 50) == 50
    with pytest.raises(PromptTooLongError) as caught:
        generator.room(window, 1)
    assert (caught.value.prompt_tokens, caught.value.context_window) == (window, window)


def test_ls_model_name_follows_a_per_call_model(tiny_generator: LocalGenerator) -> None:
    chat = ChatLocalModel(generator=tiny_generator)
    assert chat._get_ls_params()["ls_model_name"] == "tiny"
    assert chat._get_ls_params(model="other-ref")["ls_model_name"] == "other-ref"


def test_an_unknown_call_option_names_the_supported_ones(tiny_generator: LocalGenerator) -> None:
    with pytest.raises(TypeError, match="model"):
        ChatLocalModel(generator=tiny_generator).invoke("hi", colour="red")


def test_a_base_model_gets_few_shot_text_and_stops_before_the_next_question(
    tiny: tuple[Any, Any],
) -> None:
    seen: dict[str, Any] = {}

    class Plain(LocalGenerator):
        def stream(self, messages: Any, **options: Any) -> Any:
            seen.update(prompt=messages, **options)
            return iter(())

    model, tokenizer = tiny
    generator = Plain(model, tokenizer, name="base", prompt_format="plain")
    ChatLocalModel(generator=generator, max_tokens=4).invoke("What is 3 + 5?")
    assert "Question: What is 3 + 5?" in seen["prompt"]
    assert "\nQuestion:" in seen["stop"]
