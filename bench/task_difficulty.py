"""How hard the synthetic task is for a model: the figures used to choose the data defaults.

    python bench/task_difficulty.py --difficulty 1,2 --questions 20 --k 8 --temperature 1.0

For ``questions`` items per difficulty, with the task's few-shot prompt: greedy accuracy, then
``k`` samples at ``temperature``: mean fraction correct, the share of questions whose fraction
correct is strictly between 0 and 1 (informative labels), and the fractions in tenths. One JSON
object; every figure comes from this run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections import Counter
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="builtin:smollm2-135m-instruct")
    parser.add_argument("--difficulty", default="1,2")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from guardrail.lab.data import LocalBatchGenerator, Prompt
    from guardrail.lab.tasks import SyntheticArithmeticTask

    difficulties = tuple(int(d) for d in args.difficulty.split(","))
    generator = LocalBatchGenerator.from_ref(args.model)
    task = SyntheticArithmeticTask(difficulties)
    items = list(itertools.islice(task.items(), args.questions * len(difficulties)))
    prompts = [Prompt(tuple(task.prompt(item.question))) for item in items]
    common: dict[str, Any] = {"max_new_tokens": args.max_new_tokens, "stop": task.stop}

    started = time.perf_counter()
    greedy = generator.sample(prompts, 1, temperature=0.0, **common)
    sampled = generator.sample(
        prompts, args.k, temperature=args.temperature, seed=args.seed, **common
    )
    seconds = time.perf_counter() - started
    tokens = sum(c.tokens for rows in (greedy, sampled) for row in rows for c in row)

    report: dict[str, Any] = {}
    for difficulty in difficulties:
        chosen = [i for i, item in enumerate(items) if item.metadata["difficulty"] == difficulty]
        right = [task.check(greedy[i][0].text, items[i].reference) for i in chosen]
        fractions = [
            sum(task.check(c.text, items[i].reference) for c in sampled[i]) / args.k for i in chosen
        ]
        tenths = Counter(f"{round(f * 10) / 10:.1f}" for f in fractions)
        report[str(difficulty)] = {
            "questions": len(chosen),
            "greedy_accuracy": round(sum(right) / len(chosen), 3),
            "mean_fraction_correct": round(sum(fractions) / len(chosen), 3),
            "mixed_share": round(sum(0 < f < 1 for f in fractions) / len(chosen), 3),
            "fraction_histogram": dict(sorted(tenths.items())),
        }
    all_fractions = [
        sum(task.check(c.text, items[i].reference) for c in sampled[i]) / args.k
        for i in range(len(items))
    ]
    print(
        json.dumps(
            {
                "model": args.model,
                "k": args.k,
                "temperature": args.temperature,
                "max_new_tokens": args.max_new_tokens,
                "by_difficulty": report,
                "mixed_share": round(sum(0 < f < 1 for f in all_fractions) / len(items), 3),
                "tokens_per_s": round(tokens / seconds, 1),
                "seconds": round(seconds, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
