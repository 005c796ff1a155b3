from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from guardrail.audit import AuditLog, AuditRecord, JsonlAuditLog, SQLiteAuditLog, open_audit_log
from guardrail.cli import audit as audit_cli

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(cli_for: Callable[..., Run]) -> Run:
    return cli_for("guardrail.cli.audit")


@pytest.fixture(params=["audit.jsonl", "audit.db", "sqlite-url", "postgres"])
def log_path(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A log of each backend, as the path or URL that ``--log`` takes."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
        log: AuditLog = open_audit_log(url)
    elif request.param == "sqlite-url":
        url = f"sqlite:///{tmp_path / 'audit.log'}"
        log = open_audit_log(url)
    else:
        url = str(tmp_path / str(request.param))
        log = JsonlAuditLog(url) if url.endswith(".jsonl") else SQLiteAuditLog(url)
    for i in range(5):
        log.record(
            "checkpoint",
            f"run-{i % 2}",
            {"i": i, "token": "tok-secret"},
            policy="strict",
            policy_version=2,
            duration_s=0.01,
        )
    log.close()
    return url


def test_register_on_a_fresh_parser() -> None:
    parser = argparse.ArgumentParser(prog="guardrail")
    audit_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "tail", "-n", "3", "--log", "x.jsonl"])
    assert (args.n, args.log) == (3, "x.jsonl")


def test_tail(run: Run, log_path: str) -> None:
    code, out, _ = run("audit", "tail", "-n", "2", "--log", str(log_path))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert "run-1  checkpoint  strict@2 10.0ms" in lines[0]
    assert '"i": 4' in lines[1]
    assert "tok-secret" not in out
    code, out, _ = run("audit", "tail", "--log", str(log_path), "--json")
    records = [AuditRecord.model_validate_json(line) for line in out.splitlines()]
    assert [r.payload["i"] for r in records] == [0, 1, 2, 3, 4]


def test_show(run: Run, log_path: str) -> None:
    code, out, _ = run("audit", "show", "run-0", "--log", str(log_path), "--json")
    assert code == 0
    assert [json.loads(line)["payload"]["i"] for line in out.splitlines()] == [0, 2, 4]
    code, _, err = run("audit", "show", "run-9", "--log", str(log_path))
    assert code == 1
    assert "no audit records for run 'run-9'" in err


def test_log_from_environment(run: Run, log_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_AUDIT_LOG", str(log_path))
    code, out, _ = run("audit", "show", "run-1")
    assert code == 0
    assert len(out.splitlines()) == 2


def test_missing_log_exits_2(run: Run, tmp_path: Path) -> None:
    for name in ("none.jsonl", "none.db"):
        code, _, err = run("audit", "tail", "--log", str(tmp_path / name))
        assert code == 2
        assert "no audit log" in err
        assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    "argv", [["audit"], ["audit", "show"], ["audit", "tail", "-n", "-1"], ["audit", "nope"]]
)
def test_bad_arguments_exit_2(run: Run, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(*argv)
    assert info.value.code == 2
