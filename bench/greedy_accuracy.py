"""Greedy accuracy and decoding speed of a generator on synthetic questions, from one run.

    python bench/greedy_accuracy.py --generator builtin:gemma3-270m --limit 20 --difficulty 1

Answers each question greedily (``guardrail.generation.LocalGenerator``, the task's few-shot
prompt in the model's prompt format: chat template, or plain ``Question:/Answer:`` text for a
base model), checks it with the task's checker and prints one JSON object: accuracy, tokens,
seconds and tokens per second (one sequence at a time, KV cache; per wall-clock second and per
second of this process's CPU time), plus the load average so that figures from a shared machine
can be read in context.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generator", default="builtin:gemma3-270m")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--difficulty", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--show", type=int, default=2, help="answers to print")
    args = parser.parse_args()

    import torch

    from guardrail.generation import LocalGenerator
    from guardrail.lab.evaluation.answers import GenerationSettings, generate_answer
    from guardrail.lab.tasks import SyntheticArithmeticTask

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    started = time.perf_counter()
    generator = LocalGenerator.from_ref(args.generator)
    load_s = time.perf_counter() - started
    task = SyntheticArithmeticTask((args.difficulty,), seed=0)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, top_logprobs=0)
    correct = tokens = 0
    seconds = cpu_seconds = 0.0
    shown = []
    for item in itertools.islice(task.items(), args.limit):
        begin, cpu = time.perf_counter(), time.process_time()
        answer = generate_answer(generator, task, item, settings)
        seconds += time.perf_counter() - begin
        cpu_seconds += time.process_time() - cpu
        tokens += len(answer.tokens)
        correct += answer.correct
        if len(shown) < args.show:
            shown.append({"question": item.question, "answer": answer.completion})
    print(
        json.dumps(
            {
                "generator": args.generator,
                "prompt_format": generator.prompt_format,
                "questions": args.limit,
                "difficulty": args.difficulty,
                "greedy_accuracy": correct / args.limit,
                "tokens": tokens,
                "seconds": round(seconds, 1),
                "tokens_per_s": round(tokens / seconds, 2) if seconds else None,
                "cpu_seconds": round(cpu_seconds, 1),
                "tokens_per_cpu_s": round(tokens / cpu_seconds, 2) if cpu_seconds else None,
                "load_s": round(load_s, 1),
                "torch_threads": torch.get_num_threads(),
                "load_average": os.getloadavg(),
                "examples": shown,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
