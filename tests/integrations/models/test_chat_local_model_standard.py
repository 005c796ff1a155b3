"""LangChain's standard test suites (``langchain-tests``) for ``ChatLocalModel``.

The unit suite builds the model without loading it. The integration suite runs the real
embedded model (SmolLM2-135M-Instruct; ``slow``) with few, short generations on one torch
thread. The model declares what it cannot do through the suite's properties: its chat template
has no tool format, so no tool calling and no structured output; it reads text only; and a
per-call ``model`` override would load a second model, so that test is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

langchain_tests = pytest.importorskip("langchain_tests", reason="langchain-tests not installed")

from langchain_tests.integration_tests import ChatModelIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import ChatModelUnitTests  # noqa: E402

from guardrail.integrations.langchain.chat_model import ChatLocalModel  # noqa: E402

MAX_TOKENS = 12  # short answers: the suite's default of 100 tokens per call is slow on CPU


class _Capabilities:
    """What ChatLocalModel declares to both suites."""

    @property
    def chat_model_class(self) -> type[ChatLocalModel]:
        return ChatLocalModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"temperature": 0.0}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().standard_chat_model_params  # type: ignore[misc]
        return {**params, "max_tokens": MAX_TOKENS}

    @property
    def has_tool_calling(self) -> bool:
        return False  # SmolLM2-135M-Instruct's chat template has no tool format

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False  # supported per call, but it would load a second model in the suite

    @property
    def returns_usage_metadata(self) -> bool:
        return True


class TestChatLocalModelUnit(_Capabilities, ChatModelUnitTests):
    """The unit suite: construction, standard params, serialisation, no generation."""


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
class TestChatLocalModelIntegration(_Capabilities, ChatModelIntegrationTests):
    """The integration suite against the real embedded model (short answers)."""
