"""Fixtures for the litellm adapter tests: quiet litellm, the tiny model as a local provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import litellm
import pytest

from guardrail.generation import LocalGenerator


@pytest.fixture(autouse=True)
def quiet_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm, "suppress_debug_info", True)


@pytest.fixture(scope="session")
def tiny_generator(tiny: tuple[Any, Any]) -> LocalGenerator:
    model, tokenizer = tiny
    return LocalGenerator(model, tokenizer, name="tiny")


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for the tiny model (more only spin against other processes)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
