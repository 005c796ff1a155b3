from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import guardrail.cli
from guardrail.cli import review as review_cli
from guardrail.review import ReviewItem, ReviewStatus, SQLiteReviewQueue

MakeItem = Callable[..., ReviewItem]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(cli_for: Callable[..., Run]) -> Run:
    return cli_for("guardrail.cli.review")


@pytest.fixture
def filled(db_path: Path, make_item: MakeItem) -> list[ReviewItem]:
    with SQLiteReviewQueue(db_path) as store:
        items = [
            store.enqueue(make_item(queue="a", question="first question\nwith two lines")),
            store.enqueue(make_item(queue="b")),
            store.enqueue(make_item(queue="a", partial=True)),
        ]
        store.decide(items[1].id, "approve", "ann")
    return items


def test_register_on_a_fresh_parser() -> None:
    parser = argparse.ArgumentParser(prog="guardrail")
    review_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["review", "approve", "X", "--reviewer", "ann", "--db", "q.db"])
    assert args.verdict == "approve"
    assert args.db == "q.db"
    assert callable(args.func)


def test_list(run: Run, db_path: Path, filled: list[ReviewItem]) -> None:
    code, out, _ = run("review", "list", "--db", str(db_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ID")
    assert [line.split()[0] for line in lines[1:]] == [i.id for i in filled]
    assert "first question with two lines" in out

    code, out, _ = run("review", "list", "--db", str(db_path), "--status", "pending", "--json")
    assert [i["id"] for i in json.loads(out)] == [filled[0].id, filled[2].id]
    code, out, _ = run(
        "review", "list", "--db", str(db_path), "--queue", "a", "--limit", "1", "--json"
    )
    assert [i["id"] for i in json.loads(out)] == [filled[0].id]
    code, out, err = run("review", "list", "--db", str(db_path), "--queue", "zzz")
    assert (code, out) == (0, "")
    assert "no matching" in err


def test_show(run: Run, db_path: Path, filled: list[ReviewItem]) -> None:
    code, out, _ = run("review", "show", filled[2].id, "--db", str(db_path))
    assert code == 0
    assert f"id:          {filled[2].id}" in out
    assert "answer (partial):" in out
    assert "checkpoints (2):" in out
    code, out, _ = run("review", "show", filled[1].id, "--db", str(db_path), "--json")
    assert ReviewItem.model_validate_json(out).status is ReviewStatus.APPROVED


def test_decide(run: Run, db_path: Path, filled: list[ReviewItem], tmp_path: Path) -> None:
    first, approved, third = filled
    code, out, _ = run(
        "review", "reject", first.id, "--reviewer", "bob", "--note", "off", "--db", str(db_path)
    )
    assert code == 0
    assert f"{first.id}: rejected by bob" in out
    answer_file = tmp_path / "answer.txt"
    answer_file.write_text("The corrected answer.", encoding="utf-8")
    code, _, _ = run(
        "review",
        "edit",
        third.id,
        "--reviewer",
        "cy",
        "--answer-file",
        str(answer_file),
        "--db",
        str(db_path),
    )
    assert code == 0
    with SQLiteReviewQueue(db_path) as store:
        assert store.get(first.id).status is ReviewStatus.REJECTED
        assert store.get(third.id).final_answer == "The corrected answer."

    code, _, err = run("review", "approve", approved.id, "--reviewer", "x", "--db", str(db_path))
    assert code == 1
    assert "already approved" in err


def test_export(run: Run, db_path: Path, filled: list[ReviewItem], tmp_path: Path) -> None:
    code, out, err = run("review", "export", "--db", str(db_path), "--status", "pending")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == [filled[0].id, filled[2].id]
    assert "exported 2 item(s)" in err
    target = tmp_path / "out.csv"
    code, _, _ = run("review", "export", "--db", str(db_path), "--format", "csv", "-o", str(target))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == [i.id for i in filled]
    assert rows[0]["question"] == "first question\nwith two lines"


def test_unknown_id_exits_1(run: Run, db_path: Path, filled: list[ReviewItem]) -> None:
    for argv in (["show", "nope"], ["approve", "nope", "--reviewer", "ann"]):
        code, _, err = run("review", *argv, "--db", str(db_path))
        assert code == 1
        assert "no review item with id 'nope'" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["review"],
        ["review", "approve", "X"],  # no --reviewer
        ["review", "edit", "X", "--reviewer", "ann"],  # no answer
        ["review", "edit", "X", "--reviewer", "ann", "--answer", "a", "--answer-file", "f"],
        ["review", "list", "--status", "done"],
        ["review", "list", "--limit", "0"],
        ["review", "list", "--since", "yesterday"],
        ["review", "export", "--format", "xml"],
    ],
)
def test_bad_arguments_exit_2(run: Run, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(*argv)
    assert info.value.code == 2


def test_missing_database_or_answer_file_exit_2(
    run: Run, tmp_path: Path, db_path: Path, filled: list[ReviewItem]
) -> None:
    code, _, err = run("review", "list", "--db", str(tmp_path / "none.db"))
    assert code == 2
    assert "no review database" in err
    assert not (tmp_path / "none.db").exists()
    code, _, err = run(
        "review",
        "edit",
        filled[0].id,
        "--reviewer",
        "a",
        "--answer-file",
        str(tmp_path / "missing.txt"),
        "--db",
        str(db_path),
    )
    assert code == 2
    assert "cannot read --answer-file" in err


def test_db_from_environment(
    run: Run, monkeypatch: pytest.MonkeyPatch, db_path: Path, filled: list[ReviewItem]
) -> None:
    monkeypatch.setenv("GUARDRAIL_REVIEW_DB", str(db_path))
    code, out, _ = run("review", "list", "--json")
    assert code == 0
    assert len(json.loads(out)) == 3


def test_claim_and_decide_on_either_backend(run: Run, review_db: str, make_item: MakeItem) -> None:
    from guardrail.review import open_review_store

    with open_review_store(review_db) as store:
        first = store.enqueue(make_item(queue="q"))
    code, out, _ = run("review", "claim", "--db", review_db, "--reviewer", "ann", "--json")
    assert code == 0
    claimed = ReviewItem.model_validate_json(out)
    assert (claimed.id, claimed.claimed_by) == (first.id, "ann")
    code, _, err = run("review", "claim", "--db", review_db, "--reviewer", "bob")
    assert (code, err.strip()) == (3, "nothing to claim")
    code, out, _ = run("review", "approve", first.id, "--db", review_db, "--reviewer", "ann")
    assert (code, out.strip()) == (0, f"{first.id}: approved by ann")
    code, out, _ = run("review", "list", "--db", review_db, "--status", "approved", "--json")
    assert [item["id"] for item in json.loads(out)] == [first.id]


def test_notify_sends_matching_items_to_a_webhook(
    run: Run,
    review_db: str,
    make_item: MakeItem,
    webhook_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from guardrail.review import open_review_store, verify_signature

    with open_review_store(review_db) as store:
        pending = store.enqueue(make_item(queue="q"))
        decided = store.enqueue(make_item(queue="q"))
        store.decide(decided.id, "reject", "ann")
        store.enqueue(make_item(queue="other"))
    monkeypatch.setenv("HOOK_SECRET", "k3y")
    args = ["--db", review_db, "--queue", "q", "--url", webhook_server.url]
    code, _, err = run("review", "notify", *args, "--secret-env", "HOOK_SECRET")
    assert (code, err.strip()) == (0, "sent 2 notification(s)")
    bodies = [json.loads(r.body) for r in webhook_server.received]
    assert [(b["event"], b["item"]["id"]) for b in bodies] == [
        ("review.enqueued", pending.id),
        ("review.decided", decided.id),
    ]
    assert all(
        verify_signature("k3y", r.body, r.headers["X-Guardrail-Signature"])
        for r in webhook_server.received
    )
    code, _, err = run("review", "notify", *args, "--secret-env", "UNSET_VARIABLE_X")
    assert code != 0
    assert "UNSET_VARIABLE_X" in err


def test_list_json_into_a_closed_pipe_exits_quietly(
    db_path: Path, filled: list[ReviewItem]
) -> None:
    """``guardrail review list --json | head`` must not end in a BrokenPipeError traceback."""
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "guardrail", "review", "list", "--json", "--db", str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=repo,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the command writes anything
    _, err = process.communicate(timeout=120)
    assert b"Traceback" not in err, err.decode()
    assert b"BrokenPipeError" not in err
    assert process.returncode == guardrail.cli.BROKEN_PIPE_STATUS
