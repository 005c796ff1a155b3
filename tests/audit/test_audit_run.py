from __future__ import annotations

from pathlib import Path

import pytest

from guardrail.audit import AuditKind, AuditRun, JsonlAuditLog
from guardrail.events import CheckpointEvent, Stage


def _event(index: int, latency_s: float) -> CheckpointEvent:
    return CheckpointEvent(
        index=index,
        stage=Stage.PROCESS,
        reason="periodic",
        token_index=32 * index,
        char_start=0,
        char_end=10,
        confidence=0.3,
        revised=0.35,
        latency_s=latency_s,
    )


def test_a_run_records_every_step_with_policy_and_timings(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    with AuditRun(log, run_id="run-42", policy="strict", policy_version=7) as run:
        run.checkpoint(_event(1, 0.02), answer_chars=10)
        run.decision({"rule": "low", "action": "retry", "confidence": 0.35})
        run.action("retry", {"attempt": 2, "api_key": "sk-x"}, duration_s=0.5)
    records = log.read_run("run-42")
    assert [r.kind for r in records] == [
        AuditKind.RUN_START,
        AuditKind.CHECKPOINT,
        AuditKind.DECISION,
        AuditKind.ACTION,
        AuditKind.RUN_END,
    ]
    assert {(r.policy, r.policy_version) for r in records} == {("strict", "7")}
    checkpoint = records[1]
    assert checkpoint.duration_s == pytest.approx(0.02)
    assert checkpoint.payload["token_index"] == 32
    assert checkpoint.payload["answer_chars"] == 10
    assert records[3].payload == {"attempt": 2, "api_key": "[REDACTED]", "action": "retry"}
    elapsed = [r.elapsed_s for r in records]
    assert all(e is not None for e in elapsed)
    assert elapsed == sorted(elapsed)  # type: ignore[type-var]
    assert records[-1].payload == {"status": "ok"}
    assert records[-1].duration_s is not None


def test_a_failing_run_records_the_error_and_reraises(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(RuntimeError, match="scorer crashed"), AuditRun(log) as run:
        raise RuntimeError("scorer crashed")
    records = log.read_run(run.run_id)
    assert [r.kind for r in records] == [AuditKind.RUN_START, AuditKind.ERROR, AuditKind.RUN_END]
    assert records[1].payload == {"type": "RuntimeError", "message": "scorer crashed"}
    assert records[2].payload == {"status": "error"}
    assert len(run.run_id) == 32
