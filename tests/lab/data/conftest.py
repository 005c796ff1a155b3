from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from data_doubles import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Llama saved as a local model directory (a valid generator reference)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(autouse=True)
def _one_torch_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tiny-model tests on one thread: on a busy 2-core machine, two threads wait on each other
    for microsecond-sized ops (10x slower). Tests of the real model keep every thread."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
