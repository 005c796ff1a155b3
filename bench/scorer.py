"""Scorer benchmark on the embedded model: one JSON object, every figure measured in this run.

    python bench/scorer.py --json

* checkpoint latency (p50/p95) at 128/512/1024-token answer prefixes, full recomputation vs an
  incremental session (16 new tokens per checkpoint), and their ratio;
* checkpoint throughput for 1/4/8 concurrent streams, batched on one cache vs one session each;
* monitor overhead per token when no checkpoint fires.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

STEP_TOKENS = 16


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": 1000 * statistics.median(values),
        "p95_ms": 1000 * _percentile(values, 0.95),
        "n": len(values),
    }


def _corpus(tokenizer: Any, tokens_needed: int) -> tuple[str, list[str]]:
    """A question and a long answer (GSM8K solutions) split into token texts."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "gsm8k_test.jsonl")
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    answer = ""
    index = 0
    while len(tokenizer(answer)["input_ids"]) < tokens_needed:
        answer += rows[index]["solution"].replace("####", "So the answer is") + "\n"
        index += 1
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"][:tokens_needed]
    pieces = [tokenizer.decode([i]) for i in ids]
    return rows[0]["question"], pieces


def bench_latency(scorer: Any, question: str, pieces: list[str], reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prefix in (128, 512, 1024):
        full, incremental = [], []
        session = scorer.open_session(question)
        session.append("".join(pieces[:prefix]))
        session.score()
        position = prefix
        for _ in range(reps):
            chunk = "".join(pieces[position : position + STEP_TOKENS])
            position += STEP_TOKENS
            start = time.perf_counter()
            session.append(chunk)
            session.score()
            incremental.append(time.perf_counter() - start)
            start = time.perf_counter()
            scorer.score(question, "".join(pieces[:position]))
            full.append(time.perf_counter() - start)
        session.close()
        out[str(prefix)] = {
            "full_recompute": _summary(full),
            "incremental": _summary(incremental),
            "speedup_p50": statistics.median(full) / statistics.median(incremental),
        }
    return out


def bench_streams(scorer: Any, question: str, pieces: list[str], steps: int) -> dict[str, Any]:
    """Checkpoints per second for B concurrent streams with 512-token answers so far."""
    prefix = "".join(pieces[:512])
    out: dict[str, Any] = {}
    for streams in (1, 4, 8):
        questions = [f"{question} (stream {i})" for i in range(streams)]
        batch = scorer.open_batch(questions)
        singles = [scorer.open_session(q) for q in questions]
        for row in range(streams):
            batch.append(row, prefix)
            singles[row].append(prefix)
        batch.score()
        for session in singles:
            session.score()
        batched_time = sequential_time = 0.0
        for step in range(steps):
            chunk = "".join(pieces[512 + step * STEP_TOKENS : 512 + (step + 1) * STEP_TOKENS])
            start = time.perf_counter()
            for row in range(streams):
                batch.append(row, chunk)
            batch.score()
            batched_time += time.perf_counter() - start
            start = time.perf_counter()
            for session in singles:
                session.append(chunk)
                session.score()
            sequential_time += time.perf_counter() - start
        checkpoints = streams * steps
        out[str(streams)] = {
            "batched_checkpoints_per_s": checkpoints / batched_time,
            "sequential_checkpoints_per_s": checkpoints / sequential_time,
            "speedup": sequential_time / batched_time,
        }
    return out


def bench_monitor(scorer: Any, question: str, pieces: list[str]) -> dict[str, float]:
    """Per-token cost of ConfidenceMonitor.feed when no checkpoint fires (paragraph trigger)."""
    from guardrail.monitor import ConfidenceMonitor
    from guardrail.triggers.config import CheckpointSettings, ParagraphTriggerSpec

    tokens = [p.replace("\n", " ") for p in pieces]  # no paragraph ends: no checkpoint fires
    settings = CheckpointSettings(
        strategies=[ParagraphTriggerSpec()], score_question=False, score_outcome=False
    )
    best = float("inf")
    for _ in range(5):
        monitor = ConfidenceMonitor(scorer, question, settings=settings)
        monitor.start()  # opens the scoring session (prefill): not per-token overhead
        start = time.perf_counter()
        for token in tokens:
            if monitor.feed(token) is not None:
                raise RuntimeError("a checkpoint fired; the overhead figure would be wrong")
        best = min(best, time.perf_counter() - start)
    return {"tokens": len(tokens), "us_per_token": 1e6 * best / len(tokens)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:smollm2-135m-instruct")
    parser.add_argument("--reps", type=int, default=8, help="checkpoints timed per prefix length")
    parser.add_argument("--steps", type=int, default=6, help="checkpoint steps per stream count")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args()

    import torch

    from guardrail.scorers.finece import FineCEScorer

    scorer = FineCEScorer.from_ref(args.model)
    question, pieces = _corpus(
        scorer.tokenizer, 1024 + STEP_TOKENS * max(args.reps, args.steps) + 8
    )
    latency = bench_latency(scorer, question, pieces, args.reps)
    streams = bench_streams(scorer, question, pieces, args.steps)
    monitor = bench_monitor(scorer, question, pieces)
    result = {
        "machine": {
            "device": str(scorer.device),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
        },
        "model": args.model,
        "step_tokens": STEP_TOKENS,
        "latency": latency,
        "streams": streams,
        "monitor": monitor,
        "incremental_speedup_512": latency["512"]["speedup_p50"],
        "batch8_speedup": streams["8"]["speedup"],
        "monitor_overhead_us_per_token": monitor["us_per_token"],
    }
    text = json.dumps(result, indent=None if args.json else 2)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
