"""Stored text cannot drive the reviewer's terminal; invalid rows are reported and skipped."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from guardrail.review import ReviewItem, ReviewStoreError, SQLiteReviewQueue
from guardrail.review.errors import InvalidRowError

MakeItem = Callable[..., ReviewItem]
Run = Callable[..., tuple[int, str, str]]

# Retitle the terminal, clear it, then redraw a fake status line; plus a bidi override and a
# raw C1 CSI.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[H\rstatus:      approved\u202e\x9b31m"
UNSAFE = ("\x1b", "\x07", "\r", "\u202e", "\x9b")


@pytest.fixture
def run(cli_for: Callable[..., Run]) -> Run:
    return cli_for("guardrail.cli.review", "guardrail.cli.audit")


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
        conn.execute("PRAGMA ignore_check_constraints = ON")  # as a hand edit or other tool
        conn.execute(sql, (item_id,))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE review_items SET events = '[1, 2]' WHERE id = ?",
        "UPDATE review_items SET confidence = 7.5 WHERE id = ?",
        "UPDATE review_items SET created_us = 999999999999999999 WHERE id = ?",
        "UPDATE review_items SET metadata = '[1]' WHERE id = ?",
        "UPDATE review_items SET events = '{not json' WHERE id = ?",
        "UPDATE review_items SET answer = CAST(x'41ff42' AS TEXT) WHERE id = ?",
        "UPDATE review_items SET created_us = 'yesterday' WHERE id = ?",
    ],
)
def test_a_bad_row_is_reported_and_skipped_by_list_and_export(
    run: Run, db_path: Path, make_item: MakeItem, sql: str, tmp_path: Path
) -> None:
    with SQLiteReviewQueue(db_path) as store:
        good = store.enqueue(make_item())
        bad = store.enqueue(make_item())
        later = store.enqueue(make_item())
    _corrupt(db_path, bad.id, sql)
    with SQLiteReviewQueue(db_path) as store:
        skipped: list[InvalidRowError] = []
        assert [i.id for i in store.list(on_invalid=skipped.append)] == [good.id, later.id]
        assert [error.item_id for error in skipped] == [bad.id]
        with pytest.raises(ReviewStoreError, match="invalid"):
            store.get(bad.id)
    code, out, err = run("review", "list", "--db", str(db_path))
    assert code == 0
    assert good.id in out
    assert later.id in out
    assert f"warning: skipped: review item {bad.id!r} in the database is invalid" in err
    assert "Traceback" not in err
    exported = tmp_path / "out.jsonl"
    code, _, err = run("review", "export", "--db", str(db_path), "-o", str(exported))
    assert code == 0
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert [ReviewItem.model_validate_json(line).id for line in lines] == [good.id, later.id]
    assert bad.id in err


def test_a_missing_column_is_reported_not_an_index_error(
    run: Run, db_path: Path, make_item: MakeItem, caplog: pytest.LogCaptureFixture
) -> None:
    with SQLiteReviewQueue(db_path) as store:
        item = store.enqueue(make_item())
    with sqlite3.connect(db_path) as conn:
        conn.execute("ALTER TABLE review_items DROP COLUMN claimed_by")
    with SQLiteReviewQueue(db_path) as store:
        assert store.list() == []
    assert f"review item {item.id!r} in the database is invalid (IndexError" in caplog.text
    code, _, err = run("review", "export", "--db", str(db_path), "--format", "csv")
    assert code == 0
    assert "IndexError" in err
    assert "Traceback" not in err
