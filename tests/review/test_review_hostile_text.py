"""Stored text cannot drive the reviewer's terminal; invalid rows are store errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import guardrail.cli
from guardrail.review import ReviewItem, ReviewStoreError, SQLiteReviewQueue

MakeItem = Callable[..., ReviewItem]
Run = Callable[..., tuple[int, str, str]]

# Retitle the terminal, clear it, then redraw a fake status line; plus a bidi override and a
# raw C1 CSI.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[H\rstatus:      approved\u202e\x9b31m"
UNSAFE = ("\x1b", "\x07", "\r", "\u202e", "\x9b")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    monkeypatch.setattr(
        guardrail.cli, "_COMMAND_MODULES", ("guardrail.cli.review", "guardrail.cli.audit")
    )

    def run(*argv: str) -> tuple[int, str, str]:
        code = guardrail.cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.parametrize("json_output", [False, True])
def test_review_list_and_show_escape_control_sequences(
    run: Run, db_path: Path, make_item: MakeItem, json_output: bool
) -> None:
    with SQLiteReviewQueue(db_path) as store:
        item = store.enqueue(make_item(question="Q" + HOSTILE, answer="A" + HOSTILE))
    extra = ["--json"] if json_output else []
    for argv in (["list", *extra], ["show", item.id, *extra]):
        code, out, _ = run("review", *argv, "--db", str(db_path))
        assert code == 0
        for char in UNSAFE:
            assert char not in out
        assert "\\x1b" in out or "\\u001b" in out


def test_audit_tail_escapes_control_sequences(run: Run, tmp_path: Path) -> None:
    from guardrail.audit import open_audit_log

    path = tmp_path / "audit.jsonl"
    log = open_audit_log(path)
    log.record("run_end", "run-1", {"answer": HOSTILE})
    log.close()
    for extra in ([], ["--json"]):
        code, out, _ = run("audit", "tail", "--log", str(path), *extra)
        assert code == 0
        for char in UNSAFE:
            assert char not in out


def _corrupt(db_path: Path, item_id: str, sql: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(sql, (item_id,))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE review_items SET events = '[1, 2]' WHERE id = ?",
        "UPDATE review_items SET confidence = 7.5 WHERE id = ?",
        "UPDATE review_items SET created_us = 999999999999999999 WHERE id = ?",
        "UPDATE review_items SET metadata = '[1]' WHERE id = ?",
    ],
)
def test_invalid_rows_are_store_errors(
    run: Run, db_path: Path, make_item: MakeItem, sql: str
) -> None:
    with SQLiteReviewQueue(db_path) as store:
        item = store.enqueue(make_item())
    _corrupt(db_path, item.id, sql)
    with SQLiteReviewQueue(db_path) as store:
        with pytest.raises(ReviewStoreError, match="invalid"):
            store.list()
        with pytest.raises(ReviewStoreError, match="invalid"):
            store.get(item.id)
    code, _, err = run("review", "list", "--db", str(db_path))
    assert code == 1
    assert err.startswith("error: review item")
    assert "Traceback" not in err
