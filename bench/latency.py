"""Latency benchmark of the guard on the embedded generator: one JSON object, measured in this run.

    python bench/latency.py --json

* inter-token latency seen by the consumer (p50, p99) of the embedded generator's greedy answer,
  unguarded, guarded with blocking checkpoints and guarded with non-blocking ones (paragraph
  checkpoints, the default preset's settings, observe mode so that nothing is cut);
* checkpoints per second for 1, 4 and 8 concurrent guarded streams (blocking checkpoints every
  32 tokens of a GSM8K solution), with the scoring worker's micro-batching and without it
  (``max_batch=1``: the same checkpoints scored one stream at a time).

Headline ratios: ``nonblocking_p99_itl_ratio`` (guarded non-blocking p99 over unguarded p99) and
``concurrent8_checkpoint_speedup`` (8 streams micro-batched over one stream at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTION = (
    "A shop sells pens at 3 dollars each and notebooks at 5 dollars each. Sam buys 4 pens and "
    "2 notebooks. How much does he pay? Explain step by step, one step per line."
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _itl_summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": 1000 * statistics.median(values),
        "p99_ms": 1000 * _percentile(values, 0.99),
        "mean_ms": 1000 * statistics.fmean(values),
        "n": len(values),
    }


def _policy(*, blocking: bool, periodic: int | None = None) -> Any:
    from guardrail.policy import Policy, load_preset

    preset = load_preset("default")
    base = preset.checkpoints.model_dump(mode="json")
    base["blocking"] = blocking
    if periodic is not None:
        base.update(strategies=[{"type": "periodic", "every": periodic}], min_gap=0)
        base["max_per_answer"] = 64
    scorer = preset.scorer.model_dump(mode="json")  # the default preset's 5 s budget
    return Policy.from_dict({"name": "bench", "scorer": scorer, "checkpoints": base})


def _consume(stream: Any, feed: Callable[[Any], None]) -> tuple[list[float], int]:
    """Inter-token gaps as the consumer sees them (the first token's wait is not one)."""
    gaps: list[float] = []
    previous: float | None = None
    tokens = 0
    for step in stream:
        feed(step)
        now = time.perf_counter()
        if previous is not None:
            gaps.append(now - previous)
        previous = now
        tokens += 1
    return gaps, tokens


def bench_itl(generator: Any, scorer: Any, max_new_tokens: int, reps: int) -> dict[str, Any]:
    from guardrail.policy import RunContext
    from guardrail.runtime import GuardConfig

    messages = [{"role": "user", "content": QUESTION}]
    configs = {
        "blocking": GuardConfig(_policy(blocking=True), scorer, mode="observe"),
        "nonblocking": GuardConfig(_policy(blocking=False), scorer, mode="observe"),
    }
    gaps: dict[str, list[float]] = {"unguarded": [], "blocking": [], "nonblocking": []}
    checkpoints: dict[str, int] = {"blocking": 0, "nonblocking": 0}
    skipped: dict[str, int] = {"blocking": 0, "nonblocking": 0}
    tokens = 0
    generator.generate(messages, max_new_tokens=16)  # warm-up
    for _ in range(reps):
        for mode in ("unguarded", "blocking", "nonblocking"):
            stream = generator.stream(messages, max_new_tokens=max_new_tokens)
            if mode == "unguarded":
                measured, tokens = _consume(stream, lambda step: None)
                gaps[mode].extend(measured)
                continue
            watch = configs[mode].watch(QUESTION, RunContext(model=generator.name))
            measured, tokens = _consume(
                stream, lambda step, w=watch: w.feed(step.text, step.openai_logprob())
            )
            watch.finish()
            gaps[mode].extend(measured)
            checkpoints[mode] += len(watch.events)
            skipped[mode] += len(watch.skipped)
    out: dict[str, Any] = {mode: _itl_summary(values) for mode, values in gaps.items()}
    out["tokens_per_answer"] = tokens
    out["checkpoints"] = checkpoints
    out["skipped_checkpoints"] = skipped
    return out


def _answers(tokenizer: Any, count: int, tokens_each: int) -> list[tuple[str, list[str]]]:
    """``count`` questions with GSM8K solutions of ``tokens_each`` tokens, as token texts."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "gsm8k_test.jsonl")
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    out = []
    index = 0
    for _ in range(count):
        question = rows[index]["question"]
        answer = ""
        while len(tokenizer(answer, add_special_tokens=False)["input_ids"]) < tokens_each:
            answer += rows[index]["solution"].replace("####", "So the answer is") + "\n"
            index += 1
        ids = tokenizer(answer, add_special_tokens=False)["input_ids"][:tokens_each]
        out.append((question, [tokenizer.decode([i]) for i in ids]))
    return out


def _concurrent(
    scorer: Any, answers: list[tuple[str, list[str]]], max_batch: int
) -> dict[str, float]:
    from guardrail.policy import RunContext
    from guardrail.runtime import GuardConfig
    from guardrail.scoring_worker import ScoringWorker

    worker = ScoringWorker(scorer, max_batch=max_batch)
    config = GuardConfig(
        _policy(blocking=True, periodic=32),
        scorer,
        mode="observe",
        latency_budget_s=None,
        scoring=worker,
    )
    barrier = threading.Barrier(len(answers) + 1)
    counts = [0] * len(answers)

    def stream(index: int) -> None:
        question, tokens = answers[index]
        watch = config.watch(question, RunContext())
        barrier.wait()
        for token in tokens:
            watch.feed(token)
        watch.finish()
        counts[index] = len(watch.events)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(len(answers))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    worker.wait_idle(60)
    return {
        "checkpoints": sum(counts),
        "seconds": elapsed,
        "checkpoints_per_s": sum(counts) / elapsed,
        "largest_batch": worker.stats.largest_batch,
    }


def bench_concurrency(scorer: Any, tokens_each: int) -> dict[str, Any]:
    answers = _answers(scorer.tokenizer, 8, tokens_each)
    _concurrent(scorer, answers[:1], 16)  # warm-up
    out: dict[str, Any] = {}
    for streams in (1, 4, 8):
        batched = _concurrent(scorer, answers[:streams], 16)
        alone = _concurrent(scorer, answers[:streams], 1)
        out[str(streams)] = {
            "micro_batched": batched,
            "one_at_a_time": alone,
            "speedup": batched["checkpoints_per_s"] / alone["checkpoints_per_s"],
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--generator", default="builtin:smollm2-135m-instruct")
    parser.add_argument("--scorer", default="builtin:finece-smollm2")
    parser.add_argument("--tokens", type=int, default=160, help="new tokens per generated answer")
    parser.add_argument("--reps", type=int, default=3, help="answers per inter-token mode")
    parser.add_argument("--stream-tokens", type=int, default=384, help="tokens per stream")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]

    import torch

    from guardrail.generation import LocalGenerator
    from guardrail.scorers import create_scorer

    generator = LocalGenerator.from_ref(args.generator)
    scorer = create_scorer(args.scorer)
    itl = bench_itl(generator, scorer, args.tokens, args.reps)
    concurrency = bench_concurrency(scorer, args.stream_tokens)
    result = {
        "machine": {
            "device": str(next(generator.model.parameters()).device),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "load_avg_1m_at_end": os.getloadavg()[0],
            "load_avg_1m_at_start": load_at_start,
        },
        "generator": args.generator,
        "scorer": args.scorer,
        "inter_token_latency": itl,
        "checkpoints_per_second": concurrency,
        "nonblocking_p99_itl_ratio": itl["nonblocking"]["p99_ms"] / itl["unguarded"]["p99_ms"],
        "blocking_p99_itl_ratio": itl["blocking"]["p99_ms"] / itl["unguarded"]["p99_ms"],
        "concurrent8_checkpoint_speedup": concurrency["8"]["speedup"],
        "concurrent4_checkpoint_speedup": concurrency["4"]["speedup"],
        "single_stream_batching_ratio": concurrency["1"]["speedup"],
    }
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
