"""Scorer service benchmark: in process vs Ray Serve (1 and 2 replicas), one JSON object.

    python bench/remote.py --json                      # the default scorer (SmolLM2 + LoRA)
    python bench/remote.py --json --factory guardrail.testing.tiny:tiny_scorer   # quick check

Each stream is one question whose answer is scored at every paragraph end (a session: append,
score), as a guarded stream does. For 1, 8 and 32 concurrent streams (threads) it measures
checkpoints per second and p50/p99 checkpoint latency, in process (one shared scorer) and
through ``RemoteScorer`` to the Ray Serve application with 1 and 2 replicas on this machine.
``serve_stream32_speedup`` is checkpoints/s of 32 concurrent streams through the service (2
replicas) over the same checkpoints scored one by one in process. ``max_abs_diff`` compares
every served score with the in-process one. Every figure is measured in this run; ``machine``
says where and under what load (load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LEVELS = (1, 8, 32)
MIN_CHECKPOINTS = 32


def _workload(streams: int, paragraphs: int) -> list[tuple[str, list[str]]]:
    """Distinct questions, each with ``paragraphs`` answer paragraphs."""
    work = []
    for n in range(streams):
        question = f"A shop sells {n + 3} pens a day for {n + 2} days. How many pens in total?"
        parts = [
            f"Day {k + 1}: the shop sells {n + 3} pens, so far {(n + 3) * (k + 1)} pens.\n"
            for k in range(paragraphs - 1)
        ]
        parts.append(f"So the answer is {(n + 3) * (n + 2)}.")
        work.append((question, parts))
    return work


def _stream(scorer: Any, question: str, parts: list[str]) -> list[tuple[float, float]]:
    """(latency_s, score) of each checkpoint of one stream."""
    session = scorer.open_session(question)
    out = []
    try:
        for part in parts:
            session.append(part)
            started = time.perf_counter()
            value = session.score()
            out.append((time.perf_counter() - started, value))
    finally:
        session.close()
    return out


def _measure(scorer: Any, concurrency: int, paragraphs: int) -> tuple[dict[str, Any], list[float]]:
    rounds = max(1, -(-MIN_CHECKPOINTS // (concurrency * paragraphs)))
    work = _workload(concurrency, paragraphs)
    latencies: list[float] = []
    scores: list[float] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in range(rounds):
            for result in pool.map(lambda w: _stream(scorer, *w), work):
                latencies.extend(lat for lat, _ in result)
                scores.extend(value for _, value in result)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    row = {
        "streams": concurrency,
        "checkpoints": len(latencies),
        "seconds": round(elapsed, 3),
        "checkpoints_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 1),
    }
    return row, scores[: concurrency * paragraphs]


def _sequential(scorer: Any, paragraphs: int) -> dict[str, Any]:
    """The 32-stream workload scored one checkpoint after another, in process."""
    started = time.perf_counter()
    count = 0
    for question, parts in _workload(32, paragraphs):
        count += len(_stream(scorer, question, parts))
    elapsed = time.perf_counter() - started
    return {
        "checkpoints": count,
        "seconds": round(elapsed, 3),
        "checkpoints_per_s": round(count / elapsed, 2),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="builtin:finece-smollm2")
    parser.add_argument("--factory", help="module:callable building the scorer instead")
    parser.add_argument("--paragraphs", type=int, default=4, help="checkpoints per stream")
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2, help="Ray CPUs")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--engine", choices=["sglang", "vllm"], help="measure a running engine")
    parser.add_argument("--url", help="the engine's URL (with --engine)")
    args = parser.parse_args()
    if args.engine:
        return _engine_main(args)

    import ray
    import torch
    from ray import serve

    from guardrail.scorers.remote import RemoteScorer
    from guardrail.serving.ray_app import build_app, start
    from guardrail.serving.service import ScorerSpec

    torch.set_num_threads(1)
    spec = ScorerSpec(model=args.model, factory=args.factory)
    report: dict[str, Any] = {
        "scorer": spec.label,
        "paragraphs_per_stream": args.paragraphs,
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()],
            "torch_threads": 1,
            "gpu": torch.cuda.is_available(),
        },
    }
    local = spec.build()
    _stream(local, *_workload(1, 2)[0])  # warm up
    sequential = _sequential(local, args.paragraphs)
    report["inprocess_sequential"] = sequential
    inprocess = {}
    reference: dict[int, list[float]] = {}
    for level in LEVELS:
        inprocess[str(level)], reference[level] = _measure(local, level, args.paragraphs)
    report["inprocess"] = inprocess

    ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    port = _free_port()
    diffs: list[float] = []
    try:
        for replicas in (1, 2):
            cpus = max(0.5, args.num_cpus / replicas / 2)
            app = build_app(spec, replicas=replicas, num_cpus=cpus, torch_threads=1)
            url = start(app, port=port)
            remote = RemoteScorer(url, "ray", latency_budget_s=600.0)
            _stream(remote, *_workload(2, 2)[0])  # warm up
            rows = {}
            for level in LEVELS:
                rows[str(level)], served = _measure(remote, level, args.paragraphs)
                diffs.extend(abs(a - b) for a, b in zip(served, reference[level], strict=True))
            report[f"serve_{replicas}_replica{'s' if replicas > 1 else ''}"] = rows
            remote.close()
            serve.delete("guardrail-scorer")
    finally:
        serve.shutdown()
        ray.shutdown()
    best = report["serve_2_replicas"]["32"]["checkpoints_per_s"]
    report["serve_stream32_speedup"] = round(best / sequential["checkpoints_per_s"], 3)
    report["inprocess_stream32_speedup"] = round(
        inprocess["32"]["checkpoints_per_s"] / sequential["checkpoints_per_s"], 3
    )
    report["max_abs_diff"] = max(diffs) if diffs else None
    report["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


def _engine_main(args: argparse.Namespace) -> int:
    """A running SGLang or vLLM server vs the in-process scorer: equality and throughput."""
    import torch

    from guardrail.scorers.remote import RemoteScorer
    from guardrail.scorers.remote.engines import Checkpoint
    from guardrail.serving.service import ScorerSpec

    if not args.url:
        raise SystemExit("--engine needs --url")
    local = ScorerSpec(model=args.model, factory=args.factory).build()
    remote = RemoteScorer(args.url, args.engine, model=args.model, latency_budget_s=600.0)
    report: dict[str, Any] = {
        "engine": args.engine,
        "scorer": args.model,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        },
    }
    pairs = [(q, "".join(parts[:k])) for q, parts in _workload(16, 4) for k in range(5)]
    served = remote.score_batch(pairs)
    expected = local.score_batch(pairs)
    report["max_abs_diff"] = max(abs(a - b) for a, b in zip(served, expected, strict=True))
    report["equal_within_1e-3"] = report["max_abs_diff"] <= 1e-3
    _stream(remote, *_workload(2, 2)[0])  # warm up
    report["served"] = {str(level): _measure(remote, level, args.paragraphs)[0] for level in LEVELS}
    sequential = _sequential(local, args.paragraphs)
    report["inprocess_sequential"] = sequential
    report["stream32_speedup"] = round(
        report["served"]["32"]["checkpoints_per_s"] / sequential["checkpoints_per_s"], 3
    )
    if args.engine == "vllm":  # the cost of reading the first digit with a second prompt
        client: Any = remote.client
        item = [Checkpoint(*pairs[-1])]
        both = client.request(item)
        one = {**both, "prompt": both["prompt"][1:]}
        timings = {}
        for label, body in (("two_prompts", both), ("one_prompt", one)):
            started = time.perf_counter()
            for _ in range(50):
                remote.http.post("/v1/completions", body, budget_s=600.0)
            timings[label] = (time.perf_counter() - started) / 50
        report["vllm_readout_call_ms"] = {k: round(1000 * v, 2) for k, v in timings.items()}
        report["vllm_two_prompt_cost_ratio"] = round(
            timings["two_prompts"] / timings["one_prompt"], 3
        )
    report["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    remote.close()
    print(json.dumps(report, indent=None if args.json else 2))
    return 0 if report["equal_within_1e-3"] else 1


if __name__ == "__main__":
    sys.exit(main())
