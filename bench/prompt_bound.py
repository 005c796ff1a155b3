"""How fast ChatLocalModel refuses a prompt over the model's context window, beside a short answer.

    OMP_NUM_THREADS=1 python bench/prompt_bound.py --json

Issue 25 measured a 200 KB user message running for minutes (3.2 GB resident) before the
prompt was bounded. This times, in one run on the embedded model: the refusal of that message
(``ContextOverflowError``, raised before any forward pass), and a short question answered in
``--max-tokens`` tokens, so the two can be compared as a ratio on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    """Time the refusal and a short answer; print them (``--json``: one JSON object)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:smollm2-135m-instruct")
    parser.add_argument("--message-kb", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch
    from langchain_core.exceptions import ContextOverflowError

    from guardrail.integrations.langchain.chat_model import ChatLocalModel

    torch.set_num_threads(1)
    chat = ChatLocalModel(model=args.model, max_tokens=args.max_tokens)
    generator = chat.load()
    started = time.perf_counter()
    chat.invoke("What is 2 + 2?")
    answer_s = time.perf_counter() - started
    message = "lorem ipsum " * (args.message_kb * 1024 // 12)
    started = time.perf_counter()
    try:
        chat.invoke(message)
        refused = ""
    except ContextOverflowError as exc:
        refused = str(exc)
    refusal_s = time.perf_counter() - started
    result = {
        "model": args.model,
        "context_window": generator.context_window,
        "message_kb": args.message_kb,
        "refused": refused,
        "refusal_s": round(refusal_s, 3),
        "short_answer_s": round(answer_s, 3),
        "refusal_over_short_answer": round(refusal_s / answer_s, 3),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
