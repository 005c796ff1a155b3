"""Generator throughput on the embedded model: one JSON object, every figure from this run.

    python bench/generator.py --json

Samples ``k`` answers (temperature 1.0) for ``questions`` synthetic questions under the task's
4-shot prompt, and reports generated tokens per second for:

* ``one_by_one``: one sequence at a time (``guardrail.generation.LocalGenerator``, KV cache), on
  the first ``single_rows`` rows only (it is slow);
* ``per_question``: one question's ``k`` samples per call, prefix copied into each row;
* ``batched_copied``: every question's samples in one call, prefix KV copied into each row;
* ``batched_shared``: the same with the shared-prefix attention (the default).

Ratios are against ``one_by_one``. Timings on a shared CPU vary between runs; compare the
figures of one run only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _rate(tokens: int, seconds: float) -> dict[str, float]:
    return {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="builtin:smollm2-135m-instruct")
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--single-rows", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    args = parser.parse_args()

    import torch

    from guardrail.generation import LocalGenerator
    from guardrail.lab.data import LocalBatchGenerator, Prompt
    from guardrail.lab.tasks import SyntheticArithmeticTask
    from guardrail.models import load_model

    loaded = load_model(args.model)
    task = SyntheticArithmeticTask((1, 2))
    items = list(itertools.islice(task.items(), args.questions))
    prompts = [Prompt(tuple(task.prompt(item.question))) for item in items]
    options: dict[str, Any] = {
        "temperature": 1.0,
        "max_new_tokens": args.max_new_tokens,
        "stop": task.stop,
    }
    copied = LocalBatchGenerator(loaded.model, loaded.tokenizer, share_prefix=False)
    shared = LocalBatchGenerator(loaded.model, loaded.tokenizer, share_prefix=True)
    prompt_tokens = len(loaded.tokenizer(copied.render(prompts[0]))["input_ids"])
    for generator in (copied, shared):  # warm-up, and the prefix KV cached as in a real build
        generator.sample(prompts[:2], 1, temperature=0.0, max_new_tokens=2)

    results: dict[str, Any] = {}
    single = LocalGenerator(loaded.model, loaded.tokenizer)
    tokens, started = 0, time.perf_counter()
    for row in range(args.single_rows):
        prompt = copied.render(prompts[row % len(prompts)])
        steps = single.stream(
            prompt,
            temperature=1.0,
            max_new_tokens=args.max_new_tokens,
            top_logprobs=0,
            stop=task.stop,
            seed=row,
        )
        tokens += sum(1 for _ in steps)
    results["one_by_one"] = _rate(tokens, time.perf_counter() - started)

    tokens, started = 0, time.perf_counter()
    for index, prompt in enumerate(prompts):
        out = copied.sample([prompt], args.k, seed=index, **options)
        tokens += sum(c.tokens for row in out for c in row)
    results["per_question"] = _rate(tokens, time.perf_counter() - started)

    for name, generator in (("batched_copied", copied), ("batched_shared", shared)):
        started = time.perf_counter()
        out = generator.sample(prompts, args.k, seed=0, **options)
        tokens = sum(c.tokens for row in out for c in row)
        results[name] = _rate(tokens, time.perf_counter() - started)

    base = results["one_by_one"]["tokens_per_s"]
    print(
        json.dumps(
            {
                "model": args.model,
                "machine": {
                    "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "processor": platform.processor() or platform.machine(),
                },
                "questions": args.questions,
                "k": args.k,
                "prompt_tokens": prompt_tokens,
                "max_new_tokens": args.max_new_tokens,
                "results": results,
                "speedup_vs_one_by_one": {
                    name: round(result["tokens_per_s"] / base, 2)
                    for name, result in results.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
