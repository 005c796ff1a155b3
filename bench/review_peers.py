"""How long the review queue waits on its untrusted peers: a failing webhook and a wrong URL.

    python bench/review_peers.py [--postgres]

Prints JSON, measured in one run on this machine:

* ``enqueue_s``: one ``ReviewQueue.enqueue`` whose webhook receiver answers 500 to every try,
  with the sink's default retries (5 attempts, backoff 0.5 s doubling), delivered
  synchronously (``background=False``) and in the background (the default);
* with ``--postgres`` (needs Debian's ``postgresql`` package), ``open_s``: opening a review
  store at a URL with ``sslmode=bogus``, a port out of range and a database the server does
  not have, each until its ``GuardrailConfigError`` (before the URL checks: a ``PoolTimeout``
  after ``retry_s``, 30 s by default).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def enqueue_seconds(folder: Path) -> dict[str, float]:
    """One enqueue against an always-failing receiver, synchronous and in the background."""
    from guardrail.review import ReviewItem, ReviewQueue, WebhookSink

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    timings: dict[str, float] = {}
    try:
        for mode, background in (("synchronous", False), ("background", True)):
            sink = WebhookSink(
                url, "k", dead_letter_path=folder / "dead.jsonl", background=background
            )
            queue = ReviewQueue(path=folder / f"{mode}.db", sinks=[sink])
            started = time.perf_counter()
            queue.enqueue(ReviewItem(question="q", answer="a"))
            timings[mode] = round(time.perf_counter() - started, 4)
            queue.close()
    finally:
        server.shutdown()
        server.server_close()
    return timings


def open_seconds() -> dict[str, float]:
    """Time to the configuration error for three wrong PostgreSQL URLs."""
    from guardrail.errors import GuardrailConfigError
    from guardrail.review import open_review_store
    from guardrail.testing.postgres import PostgresServer

    timings: dict[str, float] = {}
    with PostgresServer.start_new() as server:
        url = server.create_database("bench")
        wrong = {
            "sslmode": f"{url}?sslmode=bogus",
            "port": url.replace(f":{server.port}/", ":99999/"),
            "no_database": url.rsplit("/", 1)[0] + "/no_such_database",
        }
        for name, target in wrong.items():
            started = time.perf_counter()
            try:
                open_review_store(target).close()
            except GuardrailConfigError:
                timings[name] = round(time.perf_counter() - started, 4)
    return timings


def main() -> None:
    """Measure and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="also time wrong URLs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report: dict[str, Any] = {"enqueue_s": enqueue_seconds(Path(folder))}
    if args.postgres:
        report["open_s"] = open_seconds()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
