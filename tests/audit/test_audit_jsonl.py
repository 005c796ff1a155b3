from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import guardrail
import guardrail.audit as audit
from guardrail.audit import (
    REDACTED,
    AuditKind,
    AuditLog,
    AuditWriteError,
    JsonlAuditLog,
    default_audit_log_path,
    open_audit_log,
)
from guardrail.errors import GuardrailConfigError


def test_public_api_is_pinned() -> None:
    assert sorted(audit.__all__) == sorted(
        [
            "REDACTED",
            "AuditKind",
            "AuditLog",
            "AuditRecord",
            "AuditRun",
            "AuditSink",
            "AuditWriteError",
            "JsonlAuditLog",
            "PostgresAuditLog",
            "SQLiteAuditLog",
            "default_audit_log_path",
            "is_secret_key",
            "open_audit_log",
            "redact",
        ]
    )


def test_record_fields_one_json_object_per_line(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "logs" / "audit.jsonl")
    assert isinstance(log, AuditLog)
    written = log.record(
        "checkpoint",
        "run-1",
        {"confidence": 0.4, "api_key": "sk-live-123", "headers": {"Authorization": "Bearer x"}},
        policy="strict",
        policy_version=3,
        duration_s=0.012,
        elapsed_s=0.5,
    )
    log.record(AuditKind.RUN_END, "run-1")
    lines = (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 2
    raw = json.loads(lines[0])
    assert set(raw) == {
        "ts",
        "run_id",
        "kind",
        "policy",
        "policy_version",
        "payload",
        "duration_s",
        "elapsed_s",
        "trace_id",
        "span_id",
    }
    assert raw["kind"] == "checkpoint"
    assert raw["policy_version"] == "3"
    assert raw["payload"] == {
        "confidence": 0.4,
        "api_key": REDACTED,
        "headers": {"Authorization": REDACTED},
    }
    assert "sk-live-123" not in lines[0]
    assert log.read_run("run-1")[0] == written
    log.close()


def test_bad_records_and_settings(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "a.jsonl")
    with pytest.raises(GuardrailConfigError, match="unknown audit kind"):
        log.record("chekpoint", "r")
    with pytest.raises(GuardrailConfigError, match="run_id"):
        log.record("action", "")
    with pytest.raises(GuardrailConfigError):
        JsonlAuditLog(tmp_path / "a.jsonl", max_bytes=0)
    record = log.record("action", "r", duration_s=float("nan"), elapsed_s=-1.0)
    assert record.duration_s is None
    assert record.elapsed_s == 0.0
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(AuditWriteError):
        JsonlAuditLog(tmp_path / "dir.jsonl").record("action", "r")


def test_rotation_keeps_backups_and_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = JsonlAuditLog(path, max_bytes=2_000, backups=3)
    for i in range(200):
        log.record("action", f"run-{i % 7}", {"i": i, "pad": "x" * 50})
    files = log.files()
    assert files == [path.with_name(f"audit.jsonl.{n}") for n in (3, 2, 1)] + [path]
    assert not path.with_name("audit.jsonl.4").exists()
    for file in files:
        assert file.stat().st_size <= 2_000
        for line in file.read_text().splitlines():
            json.loads(line)
    kept = [r.payload["i"] for r in log.tail(10_000)]
    assert kept == list(range(200 - len(kept), 200))  # the newest, in order
    assert [r.payload["i"] for r in log.tail(3)] == [197, 198, 199]
    assert log.tail(0) == []
    assert all(r.run_id == "run-3" for r in log.read_run("run-3"))


def test_a_record_larger_than_max_bytes_gets_its_own_file(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "a.jsonl", max_bytes=100, backups=0)
    log.record("action", "r", {"big": "y" * 500})
    log.record("action", "r", {"big": "z" * 500})
    assert [r.payload["big"][0] for r in log.tail(5)] == ["z"]


def test_concurrent_threads(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl", max_bytes=20_000, backups=50)

    def write(worker: int) -> None:
        for i in range(100):
            log.record("checkpoint", f"w{worker}", {"i": i, "text": "é" * 30})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.files()) > 5  # rotated many times while threads raced
    records = log.tail(10_000)
    assert len(records) == 800
    for worker in range(8):
        assert [r.payload["i"] for r in log.read_run(f"w{worker}")] == list(range(100))


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_concurrent_processes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    script = (
        "import sys\n"
        "from guardrail.audit import JsonlAuditLog\n"
        "log = JsonlAuditLog(sys.argv[1], max_bytes=8000, backups=100)\n"
        "for i in range(150):\n"
        "    log.record('action', sys.argv[2], {'i': i})\n"
    )
    repo = str(Path(guardrail.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": repo}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path), f"p{n}"], env=env)
        for n in range(3)
    ]
    for proc in procs:
        with proc:
            assert proc.wait(timeout=120) == 0
    log = JsonlAuditLog(path, max_bytes=8000, backups=100)
    for n in range(3):
        assert [r.payload["i"] for r in log.read_run(f"p{n}")] == list(range(150))


def test_unreadable_lines_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    log = JsonlAuditLog(path)
    log.record("run_start", "r")
    with path.open("a") as fh:
        fh.write('{"ts": "2025-01-01T00:00:00Z", "run_id": "r", "ki')  # a crash mid-line
    with caplog.at_level(logging.WARNING):
        assert [r.kind for r in log.read_run("r")] == [AuditKind.RUN_START]
    assert "skipped 1 unreadable line" in caplog.text


def test_reading_a_missing_log_is_empty(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "none.jsonl")
    assert log.tail() == []
    assert log.read_run("x") == []


def test_default_path_and_backend_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GUARDRAIL_AUDIT_LOG", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_audit_log_path() == tmp_path / "guardrail" / "audit.jsonl"
    monkeypatch.setenv("GUARDRAIL_AUDIT_LOG", str(tmp_path / "env.jsonl"))
    log = open_audit_log()
    assert isinstance(log, JsonlAuditLog)
    assert log.path == tmp_path / "env.jsonl"
    assert type(open_audit_log(tmp_path / "x.db")).__name__ == "SQLiteAuditLog"


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"ts": "2025-01-01T00:00:00Z", "run_id": "dead", "ki')  # killed writer
    log = JsonlAuditLog(path)
    log.record("run_start", "alive")
    assert [r.run_id for r in log.tail()] == ["alive"]
    assert path.read_text().splitlines()[1].startswith('{"ts"')


def test_readers_find_every_backup_whatever_their_own_setting(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writer = JsonlAuditLog(path, max_bytes=1000, backups=20)
    for i in range(50):
        writer.record("action", "r", {"i": i})
    assert len(writer.files()) > 6
    reader = JsonlAuditLog(path)  # default backups=5
    assert [r.payload["i"] for r in reader.read_run("r")] == list(range(50))
