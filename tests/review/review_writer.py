"""A review-queue writer run as a separate process by the concurrency tests.

usage: review_writer.py batch PATH NAME SHARED OWN   enqueue SHARED shared keys + OWN own keys
       review_writer.py loop  PATH NAME              enqueue forever (until killed)
       review_writer.py count PATH NAME N            enqueue N keys NAME-0 ... NAME-<N-1>
       review_writer.py decide PATH ID DELAY_S       approve ID after DELAY_S seconds
       review_writer.py claim PATH NAME              claim items until none is left

PATH is a file or a postgresql:// URL. Each committed item is printed as ``KEY ID`` and flushed
only after enqueue returned; each claimed item as ``ID``.
"""

from __future__ import annotations

import sys
import time

from guardrail.review import ReviewItem, open_review_store


def main(argv: list[str]) -> int:
    mode, path = argv[0], argv[1]
    queue = open_review_store(path)
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
    elif mode == "count":
        name, count = argv[2], int(argv[3])
        for i in range(count):
            key = f"{name}-{i}"
            item = queue.enqueue(ReviewItem(question=key, answer=f"answer {i}"), dedupe_key=key)
            print(key, item.id, flush=True)
    elif mode == "claim":
        name = argv[2]
        while (claimed := queue.claim(name)) is not None:
            print(claimed.id, flush=True)
    elif mode == "decide":
        time.sleep(float(argv[3]))
        queue.decide(argv[2], "approve", "other-process")
    queue.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
