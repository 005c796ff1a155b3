"""A review-queue writer run as a separate process by the concurrency tests.

usage: review_writer.py batch PATH NAME SHARED OWN   enqueue SHARED shared keys + OWN own keys
       review_writer.py loop  PATH NAME              enqueue forever (until killed)
       review_writer.py decide PATH ID DELAY_S       approve ID after DELAY_S seconds

Each committed item is printed as ``KEY ID`` and flushed only after enqueue returned.
"""

from __future__ import annotations

import sys
import time

from guardrail.review import ReviewItem, SQLiteReviewQueue


def main(argv: list[str]) -> int:
    mode, path = argv[0], argv[1]
    queue = SQLiteReviewQueue(path)
    if mode == "batch":
        name, shared, own = argv[2], int(argv[3]), int(argv[4])
        keys = [f"shared-{i}" for i in range(shared)] + [f"{name}-{i}" for i in range(own)]
        for key in keys:
            item = queue.enqueue(ReviewItem(question=f"{name} asks {key}"), dedupe_key=key)
            print(key, item.id, flush=True)
    elif mode == "loop":
        name, i = argv[2], 0
        while True:
            key = f"{name}-{i}"
            # Multi-page rows make the kill likelier to land inside a transaction.
            answer = (key + " ") * 2000
            item = queue.enqueue(ReviewItem(question=key, answer=answer), dedupe_key=key)
            print(key, item.id, flush=True)
            i += 1
    elif mode == "decide":
        time.sleep(float(argv[3]))
        queue.decide(argv[2], "approve", "other-process")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
