"""The scorer as a Ray Serve application: ``POST /score``, dynamic batching, stream affinity.

* Dynamic batching: concurrent requests on a replica are gathered by ``@serve.batch`` (up to
  ``max_batch_size``, waiting at most ``batch_wait_s`` for more) and scored in one
  :meth:`~guardrail.serving.service.ScorerService.run_many` call.
* Stream affinity: a stream's checkpoints carry its id in Ray Serve's
  ``serve_multiplexed_model_id`` header. The replica "loads" that id through
  ``@serve.multiplexed``, whose per-replica LRU (``max_streams``) holds the stream's
  :class:`~guardrail.serving.service.StreamSlot` (its KV session), and Ray Serve's router sends
  later requests with the same id to the replica that holds it, falling back to another one
  (which recomputes) when that replica is busy, gone or evicted it.

* Admission (:mod:`guardrail.serving.admission`): with a token, every request must carry it
  (``Authorization: Bearer``, compared in constant time; the replicas get its digest only);
  the body is read within ``limits.body_timeout_s`` and at most ``limits.max_body_bytes``,
  and a request of more than ``limits.max_items`` checkpoints is refused (401, 408, 413,
  400 for a malformed one). Ray Serve's proxy bounds each request end to end
  (``request_timeout_s``).

Requires the ``serve`` extra (``pip install 'finece-guardrail[serve]'``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from guardrail._optional import require
from guardrail.serving.admission import Admission, Refusal, ServeLimits, token_digest
from guardrail.serving.service import (
    ScoreRequest,
    ScorerService,
    ScorerSpec,
    StreamSlot,
)

__all__ = ["APP_NAME", "build_app", "replica_actor_names", "start"]

APP_NAME = "guardrail-scorer"


def build_app(
    spec: ScorerSpec,
    *,
    replicas: int = 1,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    max_batch_size: int = 32,
    batch_wait_s: float = 0.005,
    max_streams: int = 256,
    torch_threads: int | None = None,
    limits: ServeLimits | None = None,
    token: str | None = None,
) -> Any:
    """A Ray Serve application serving the scorer ``spec`` builds, on ``replicas`` replicas.

    ``token``: the shared secret every request must carry (``None``: no authentication);
    ``limits``: what one request may hold (:class:`~guardrail.serving.admission.ServeLimits`).
    """
    serve = require("ray.serve", "serve")
    starlette = require("starlette.responses", "serve")
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    threads = torch_threads or max(1, int(num_cpus))

    @serve.deployment(
        name="FineCEScorer",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus},
        max_ongoing_requests=max(64, 2 * max_batch_size),
        health_check_period_s=2.0,
        health_check_timeout_s=30.0,
    )
    class ScorerDeployment:
        def __init__(self, spec: ScorerSpec, limits: ServeLimits, digest: bytes | None) -> None:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import torch

            torch.set_num_threads(threads)
            self.admission = Admission(limits, digest)
            self.service = ScorerService(spec.build())
            self.replica = serve.get_replica_context().replica_id.unique_id

        @serve.multiplexed(max_num_models_per_replica=max_streams)  # type: ignore[untyped-decorator]
        async def stream_slot(self, stream: str) -> StreamSlot:
            return StreamSlot(stream)

        async def __call__(self, http_request: Any) -> Any:
            request = await self.admission.admit(http_request)
            if isinstance(request, Refusal):
                return starlette.JSONResponse(
                    request.body(), status_code=request.status, headers=dict(request.headers)
                )
            stream = serve.get_multiplexed_model_id()
            slot = await self.stream_slot(stream) if stream else None
            slots = [slot if item.stream == stream and stream else None for item in request.items]
            values = await self.score(request, slots)
            return {"values": values, "replica": self.replica}

        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_s)  # type: ignore[untyped-decorator]
        async def score(self, requests: list[ScoreRequest], slots: list[Any]) -> list[Any]:
            jobs = list(zip(requests, slots, strict=True))
            return await asyncio.to_thread(self.service.run_many, jobs)

    deployment: Any = ScorerDeployment
    digest = None if token is None else token_digest(token)
    return deployment.bind(spec, limits or ServeLimits(), digest)


def start(
    app: Any,
    *,
    address: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    num_cpus: int | None = None,
    request_timeout_s: float | None = 120.0,
) -> str:
    """Connect to (``address``) or start a local Ray cluster and run ``app``; its URL.

    ``request_timeout_s`` bounds each request at Ray Serve's proxy (``None``: no bound).
    """
    ray = require("ray", "serve")
    serve = require("ray.serve", "serve")
    if not ray.is_initialized():
        if address:
            ray.init(address=address)
        else:
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False)
    serve.start(http_options={"host": host, "port": port, "request_timeout_s": request_timeout_s})
    serve.run(app, name=APP_NAME, route_prefix="/score")
    return f"http://{host}:{port}"


def replica_actor_names() -> list[str]:
    """Names of the scorer's live replica actors (namespace ``serve``), e.g. to kill one."""
    from ray.util import list_named_actors

    return sorted(
        entry["name"]
        for entry in list_named_actors(all_namespaces=True)
        if entry.get("namespace") == "serve"
        and APP_NAME in entry["name"]
        and "REPLICA" in entry["name"]
    )
