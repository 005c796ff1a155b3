"""A fleet on one PostgreSQL server: writers killed, the server restarted, reviewers racing.

Eight writer processes enqueue 500 items each. One writer is SIGKILLed and the server is
restarted with a fast shutdown while the others write: every enqueue that returned is stored,
none twice. Then four reviewer processes claim concurrently: no item goes to two of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import guardrail

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

WRITER = Path(__file__).with_name("review_writer.py")
REPO = Path(guardrail.__file__).resolve().parent.parent
WRITERS, PER_WRITER, REVIEWERS = 8, 500, 4


class Worker:
    """A worker process whose stdout lines are collected by a thread as they come."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.endswith("\n"):  # a line cut short by SIGKILL never returned to anyone
                self.lines.append(line.rstrip("\n"))

    def finish(self, timeout_s: float) -> tuple[int, str]:
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join()
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return self.proc.returncode, err


def _wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_writers_killed_and_a_server_restart_lose_nothing_and_reviewers_never_share(
    postgres_server: Any, postgres_url: str
) -> None:
    from guardrail.review import PostgresReviewQueue

    PostgresReviewQueue(postgres_url).close()  # the schema, before the writers race
    writers = [Worker("count", postgres_url, f"w{i}", str(PER_WRITER)) for i in range(WRITERS)]
    victim, others = writers[0], writers[1:]
    try:
        _wait_until(lambda: len(victim.lines) >= 40, 300, "the first writer to get going")
        victim.proc.send_signal(signal.SIGKILL)
        total = WRITERS * PER_WRITER
        _wait_until(lambda: sum(len(w.lines) for w in others) >= total // 5, 300, "progress")
        running_at_restart = sum(w.proc.poll() is None for w in others)
        postgres_server.restart("fast")
        results = [w.finish(timeout_s=600) for w in writers]
    finally:
        for worker in writers:
            if worker.proc.poll() is None:
                worker.proc.kill()
    assert running_at_restart == len(others)  # the restart happened mid-run
    assert results[0][0] == -signal.SIGKILL
    for code, err in results[1:]:
        assert code == 0, err

    returned = dict(line.split(" ") for w in writers for line in w.lines)
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT dedupe_key, id FROM review_items").fetchall()
    keys = Counter(key for key, _ in rows)
    assert all(count == 1 for count in keys.values())  # none twice
    stored = dict(rows)
    assert {key: stored.get(key) for key in returned} == returned  # every returned one stored
    for index, worker in enumerate(others, start=1):
        assert len(worker.lines) == PER_WRITER
        assert all(f"w{index}-{i}" in stored for i in range(PER_WRITER))
    assert len(victim.lines) < PER_WRITER

    reviewers = [Worker("claim", postgres_url, f"r{i}") for i in range(REVIEWERS)]
    outcomes = [r.finish(timeout_s=600) for r in reviewers]
    for code, err in outcomes:
        assert code == 0, err
    claimed = [line for r in reviewers for line in r.lines]
    assert len(claimed) == len(set(claimed))  # no item went to two reviewers
    assert set(claimed) == set(stored.values())  # and every item went to one
    assert sum(1 for r in reviewers if r.lines) >= 2  # they did run side by side
