"""Generators over the tiny random Llama for the model adapters' tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from guardrail.generation import LocalGenerator, TokenStep


class RecordingGenerator(LocalGenerator):
    """A LocalGenerator that counts the steps it computed and notices when it is closed.

    With ``gate`` set, every step first waits (in the thread that runs it) for the event.
    """

    def __init__(self, model: Any, tokenizer: Any, *, gate: threading.Event | None = None) -> None:
        super().__init__(model, tokenizer, name="recording")
        self.gate = gate
        self.steps = 0
        self.closed = threading.Event()
        self.gate_timed_out = False

    def stream(self, messages: Any, **options: Any) -> Iterator[TokenStep]:
        try:
            for step in super().stream(messages, **options):
                if self.gate is not None and not self.gate.wait(timeout=10):
                    self.gate_timed_out = True
                self.steps += 1
                yield step
        finally:
            self.closed.set()


@pytest.fixture(scope="session")
def tiny_generator(tiny: tuple[Any, Any]) -> LocalGenerator:
    model, tokenizer = tiny
    return LocalGenerator(model, tokenizer, name="tiny")


@pytest.fixture
def make_recording(tiny: tuple[Any, Any]) -> Callable[..., RecordingGenerator]:
    """``make_recording(gate=None)``: a fresh :class:`RecordingGenerator` over the tiny model."""
    model, tokenizer = tiny

    def make(gate: threading.Event | None = None) -> RecordingGenerator:
        return RecordingGenerator(model, tokenizer, gate=gate)

    return make


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run these tests' models on one intra-op thread, then restore the setting.

    The tiny model's matrices are far too small to gain from more threads, and on a shared
    machine OpenMP threads spinning against other processes make each step ~40x slower.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
