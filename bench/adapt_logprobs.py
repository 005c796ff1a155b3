"""Teacher-forced logprobs of labelled answers: full forward pass vs the shared prefix cached.

    OMP_NUM_THREADS=1 python bench/adapt_logprobs.py [N]

Scores the first ``N`` outcome answers of ``datasets/finece-multidomain/facts-train.jsonl``
with the embedded model both ways, in one run, and prints the time of each, their ratio and
the largest logprob difference.
"""

from __future__ import annotations

import sys
import time

from guardrail.generation import LocalGenerator
from guardrail.lab.adapt.logprobs import SharedPrefixLogprobs
from guardrail.lab.data import read_records
from guardrail.lab.tasks import get_task


def main() -> None:
    """Run the comparison (module documentation)."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    task = get_task("facts")
    records = [
        r
        for r in read_records("datasets/finece-multidomain/facts-train.jsonl")
        if r.get("type") == "label" and r.get("text_kind") == "outcome"
    ][:n]
    generator = LocalGenerator.from_ref("builtin:smollm2-135m-instruct", device="cpu")
    shared = SharedPrefixLogprobs(generator)
    pairs = [(task.prompt(r["question"]), r["prefix"]) for r in records]
    start = time.perf_counter()
    full = [generator.token_logprobs(m, a) for m, a in pairs]
    middle = time.perf_counter()
    cached = [shared.token_logprobs(m, a) for m, a in pairs]
    end = time.perf_counter()
    worst = max(
        abs((x.logprob or 0.0) - (y.logprob or 0.0))
        for f, c in zip(full, cached, strict=True)
        for x, y in zip(f, c, strict=True)
    )
    print(f"{n} answers: full {middle - start:.1f} s, shared prefix {end - middle:.1f} s, ")
    print(f"ratio {(middle - start) / (end - middle):.2f}x, largest logprob difference {worst:.2e}")


if __name__ == "__main__":
    main()
