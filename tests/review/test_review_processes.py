"""Real processes against one SQLite file: concurrent writers, SIGKILL, cross-process wait."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import guardrail
from guardrail.review import ReviewItem, ReviewStatus, SQLiteReviewQueue

WRITER = Path(__file__).with_name("review_writer.py")
REPO = Path(guardrail.__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _writer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _committed(stdout: str) -> dict[str, str]:
    """``key -> id`` for every complete line (a line cut short by the kill is ignored)."""
    lines = stdout.split("\n")[:-1]  # the text after the last newline is incomplete
    return dict(line.split(" ") for line in lines)


def _rows(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT dedupe_key, id FROM review_items").fetchall()
    finally:
        conn.close()


def test_concurrent_writers_store_every_item_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"  # created by the racing writers themselves
    names = [f"w{i}" for i in range(4)]
    shared, own = 30, 15
    procs = [_writer("batch", str(path), name, str(shared), str(own)) for name in names]
    outputs = []
    for proc in procs:
        with proc:
            out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(_committed(out))

    rows = _rows(path)
    keys = Counter(key for key, _ in rows)
    assert len(rows) == shared + own * len(names)
    assert all(count == 1 for count in keys.values())
    stored = dict(rows)
    for output in outputs:
        assert len(output) == shared + own
        # Whoever won the race, every writer got the one stored item back for a shared key.
        assert all(stored[key] == item_id for key, item_id in output.items())


def test_sigkill_loses_no_committed_item_and_leaves_a_sound_file(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    rng = random.Random(7)
    committed: dict[str, str] = {}
    for round_ in range(3):  # later rounds also start on a file a killed writer left behind
        proc = _writer("loop", str(path), f"r{round_}")
        with proc:
            assert proc.stdout is not None
            printed = []
            for _ in range(rng.randint(5, 40)):
                line = proc.stdout.readline()
                if not line:
                    pytest.fail(f"writer died early: {proc.communicate()[1]}")
                printed.append(line)
            time.sleep(rng.uniform(0.0, 0.02))
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        this_round = _committed("".join(printed) + rest)
        assert len(this_round) >= len(printed)
        committed.update(this_round)
        stored = dict(_rows(path))  # integrity_check runs first
        missing = {key for key, item_id in committed.items() if stored.get(key) != item_id}
        assert not missing

    with SQLiteReviewQueue(path) as queue:
        assert queue.integrity_check() == "ok"
        before = len(queue.list())
        queue.enqueue(ReviewItem(question="after the kills"), dedupe_key="after")
        assert len(queue.list()) == before + 1


def test_wait_sees_a_decision_made_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "wait.db"
    with SQLiteReviewQueue(path) as queue:
        item = queue.enqueue(ReviewItem(question="q", answer="a"))
        proc = _writer("decide", str(path), item.id, "0.3")
        with proc:
            decided = queue.wait(item.id, timeout_s=60, poll_s=0.05)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert decided.status is ReviewStatus.APPROVED
    assert decided.decision is not None
    assert decided.decision.reviewer == "other-process"
