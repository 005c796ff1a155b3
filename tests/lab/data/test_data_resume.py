"""Kill ``guardrail data build`` with SIGKILL mid-run, re-run it, and lose or duplicate nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from guardrail.cli.data import main

LIMIT = 30


def _command(model: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "guardrail.cli.data", "build",
        "--generator", str(model), "--limit", str(LIMIT), "--k", "3", "--levels", "1",
        "--max-new-tokens", "16", "--batch-questions", "1", "--out", str(out), "--no-progress",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def _markers(path: Path) -> int:
    if not path.exists():
        return 0
    return path.read_bytes().count(b'"type": "done"')


def _committed_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if '"type": "meta"' not in line]


def test_sigkill_then_rerun_loses_and_duplicates_nothing(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "train.jsonl"
    process = subprocess.Popen(_command(tiny_model_dir, out), env=_env(), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _markers(out) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if process.poll() is not None:
        pytest.fail(f"the build ended before it could be killed: {process.stderr.read()!r}")  # type: ignore[union-attr]
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()  # type: ignore[union-attr]
    killed_markers = _markers(out)
    assert 3 <= killed_markers < LIMIT
    before = _committed_lines(out)
    committed_before = before[
        : max(i for i, line in enumerate(before) if '"type": "done"' in line) + 1
    ]

    subprocess.run(_command(tiny_model_dir, out), env=_env(), check=True, capture_output=True)

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["type"] == "meta"
    assert sum(r["type"] == "meta" for r in records) == 1
    done = Counter(r["question_id"] for r in records if r["type"] == "done")
    expected = {f"synthetic-d{1 + i % 2}-s0-{i // 2}" for i in range(LIMIT)}
    assert set(done) == expected
    assert set(done.values()) == {1}
    labels = Counter(r["question_id"] for r in records if r["type"] == "label")
    assert labels == {r["question_id"]: r["labels"] for r in records if r["type"] == "done"}
    assert _committed_lines(out)[: len(committed_before)] == committed_before  # untouched

    # The same build without a kill (in this process) writes exactly the same records.
    reference = tmp_path / "reference.jsonl"
    assert main(_command(tiny_model_dir, reference)[3:]) == 0
    assert sorted(_committed_lines(out)) == sorted(_committed_lines(reference))
