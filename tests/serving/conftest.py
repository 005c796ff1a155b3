"""One local Ray cluster for the serving tests, with the tiny scorer on two replicas."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from serve_token import SERVE_TOKEN, SERVE_TOKEN_ENV

ray = pytest.importorskip("ray", reason="the serve extra (ray[serve]) is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def ray_scorer_url() -> Iterator[str]:
    """A Ray Serve scorer app (``guardrail.testing.tiny:tiny_scorer``, 2 replicas) on loopback.

    It requires the token :data:`SERVE_TOKEN`, found in :data:`SERVE_TOKEN_ENV` by clients.
    """
    from ray import serve

    from guardrail.serving.ray_app import build_app, start
    from guardrail.serving.service import ScorerSpec

    ray.init(
        address="local",  # a cluster of its own, never one already running here
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}},
    )
    try:
        app = build_app(
            ScorerSpec(factory="guardrail.testing.tiny:tiny_scorer"),
            replicas=2,
            num_cpus=0.5,
            batch_wait_s=0.002,
            token=SERVE_TOKEN,
        )
        os.environ[SERVE_TOKEN_ENV] = SERVE_TOKEN
        yield start(app, port=_free_port())
    finally:
        os.environ.pop(SERVE_TOKEN_ENV, None)
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="session")
def in_process(tiny_scorer: Any) -> Any:
    """The same scorer the replicas build, in this process."""
    return tiny_scorer
