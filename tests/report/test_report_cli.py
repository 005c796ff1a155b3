"""``guardrail report`` and ``guardrail inspect`` (the tiny random Llama as the scorer)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_audit import RUN_ID

from guardrail.cli import report as report_cli
from guardrail.policy import Policy
from guardrail.report import inspect_answer, token_pieces
from guardrail.testing import ScriptedScorer

Run = Callable[..., tuple[int, str, str]]

QUESTION = "Tom has 3 apples and buys 5 more. How many apples?"
ANSWER = "Tom starts with 3 apples.\nHe buys 5 more: 3 + 5 = 8. <script>x</script>\n\nSo 8."


@pytest.fixture
def run(cli_for: Callable[..., Run]) -> Run:
    return cli_for("guardrail.cli.report")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory, tiny: tuple[Any, Any]) -> Path:
    """The tiny random Llama saved as a transformers model directory."""
    path = tmp_path_factory.mktemp("tiny-model")
    model, tokenizer = tiny
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_register_on_a_fresh_parser() -> None:
    parser = argparse.ArgumentParser(prog="guardrail")
    report_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", "--last", "--log", "a.jsonl", "-o", "x.html"])
    assert (args.last, args.run, args.log, args.output) == (True, None, "a.jsonl", "x.html")
    args = parser.parse_args(["inspect", "--question", "Q", "--answer", "A"])
    assert (args.policy, args.output, args.model) == (
        "preset:default",
        "guardrail-inspect.html",
        None,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "RUN", "--last"])


def test_report_last(run: Run, log_path: Path, tmp_path: Path) -> None:
    output = tmp_path / "last.html"
    code, out, err = run("report", "--last", "--log", str(log_path), "-o", str(output))
    assert (code, err) == (0, "")
    assert out.strip() == str(output)
    page = output.read_text(encoding="utf-8")
    assert RUN_ID in page
    assert "&lt;script&gt;" in page


def test_report_run_default_output(
    run: Run, log_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("report", "older-run", "--log", str(log_path), "--policy", "preset:strict")
    assert code == 0
    assert out.strip() == "guardrail-report-older-run.html"
    assert "Policy &#x27;strict&#x27;" in (tmp_path / out.strip()).read_text(encoding="utf-8")


def test_report_from_a_postgres_log(run: Run, postgres_url: str, tmp_path: Path) -> None:
    from report_audit import write_run

    from guardrail.audit import PostgresAuditLog

    with PostgresAuditLog(postgres_url) as log:
        write_run(log)
    output = tmp_path / "pg.html"
    code, out, err = run("report", "--last", "--log", postgres_url, "-o", str(output))
    assert out.strip() == str(output)
    assert (code, err) == (0, "")
    assert RUN_ID in output.read_text(encoding="utf-8")


def test_report_unknown_run(run: Run, log_path: Path) -> None:
    code, out, err = run("report", "no-such-run", "--log", str(log_path))
    assert (code, out) == (1, "")
    assert "no audit records for run 'no-such-run'" in err


def test_report_last_on_a_log_without_runs(run: Run, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    code, _, err = run("report", "--last", "--log", str(tmp_path / "empty.jsonl"))
    assert code == 1
    assert "no runs" in err


def test_report_without_a_log(run: Run, tmp_path: Path) -> None:
    code, _, err = run("report", "--last", "--log", str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert "no audit log at" in err


def test_token_pieces_join_back() -> None:
    assert token_pieces("") == []
    assert token_pieces("a bc\n\nd") == ["a", " bc", "\n\n", "d"]
    assert token_pieces("  lead x  \n") == ["  lead", " x", "  ", "\n"]


def test_token_pieces_with_the_tiny_tokenizer(tiny: tuple[Any, Any]) -> None:
    _, tokenizer = tiny
    pieces = token_pieces(ANSWER, tokenizer)
    assert "".join(pieces) == ANSWER
    assert len(pieces) == len(ANSWER)  # a character-level tokenizer


def test_inspect_answer_with_a_scorer_object(tiny_scorer: Any) -> None:
    report = inspect_answer(QUESTION, ANSWER, tiny_scorer)
    (attempt,) = report.attempts
    assert (report.source, report.policy_name, attempt.answer) == ("inspect", "default", ANSWER)
    assert [e.stage.value for e in attempt.events] == ["question", "process", "process", "outcome"]
    assert len(attempt.decisions) == len(attempt.events)
    assert "".join(s.text or "" for s in attempt.segments()) == ANSWER
    assert report.status.startswith("would ")


def test_inspect_decisions_follow_the_policy() -> None:
    policy = Policy.from_dict(
        {
            "name": "low",
            "checkpoints": {"min_gap": 0},
            "bci": {"alpha": 0.5, "depth": 1, "width": 2},
            "rules": [
                {
                    "name": "weak",
                    "when": {"stage": "process", "confidence_below": 0.5},
                    "action": {"type": "abort"},
                }
            ],
        }
    )
    scorer = ScriptedScorer([0.9, 0.8, 0.3, 0.7])
    report = inspect_answer("Q?", "one\ntwo\nthree", scorer, policy=policy, generator="gen")
    (attempt,) = report.attempts
    assert [d.action for d in attempt.decisions] == ["continue", "continue", "abort", "continue"]
    assert report.status == "would abort"
    assert attempt.model == "gen"
    assert "sampled future path(s) are left out" in report.revised_note
    assert [e.revised for e in attempt.events] == pytest.approx([0.85, 0.55, 0.5, 0.7])
    assert any("abort at checkpoint 2" in note for note in report.notes)
    with pytest.raises(ValueError, match="join"):
        inspect_answer("Q?", "abc", scorer, pieces=["ab"])


def test_inspect_scorer_failure_is_shown(tmp_path: Path) -> None:
    scorer = ScriptedScorer([0.9], fail_on=2)
    report = inspect_answer("Q?", "one\ntwo\n", scorer)
    (attempt,) = report.attempts
    assert attempt.errors
    assert attempt.decisions[-1].failure_mode == "fail_closed"
    assert report.status == "would abort (fail_closed)"


def test_inspect_cli_with_a_model_path(run: Run, tiny_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "inspect.html"
    answer_file = tmp_path / "answer.txt"
    answer_file.write_text(ANSWER, encoding="utf-8")
    code, out, err = run(
        "inspect",
        "--question",
        QUESTION,
        "--answer-file",
        str(answer_file),
        "--model",
        str(tiny_dir),
        "--device",
        "cpu",
        "-o",
        str(output),
    )
    assert code == 0, err
    assert out.strip() == str(output)
    page = output.read_text(encoding="utf-8")
    assert "Confidence inspection" in page
    assert 'data-segments="3"' in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_inspect_cli_bad_answer_file(run: Run, tmp_path: Path) -> None:
    code, _, err = run("inspect", "--question", "Q", "--answer-file", str(tmp_path / "nope.txt"))
    assert code == 2
    assert "cannot read --answer-file" in err
