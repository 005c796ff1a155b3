"""Fixtures of the report tests: an audit log holding a hand-written guarded run."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_audit import write_run

from guardrail.audit import JsonlAuditLog


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """A JSON-lines audit log holding an unrelated run, then :data:`RUN_ID` (with text)."""
    path = tmp_path / "audit.jsonl"
    log = JsonlAuditLog(path)
    log.record("run_start", "older-run", {"question": "Old?", "model": "m"})
    log.record("run_end", "older-run", {"status": "ok"})
    write_run(log)
    log.close()
    return path
