"""``guardrail data build`` and ``summary`` (litellm mock responses: no model, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrail.cli.data import main

MOCK = json.dumps({"mock_response": "Then 3 + 4 = 7.\nThe answer is 7."})  # one paragraph end


def _build(out: Path, *extra: str) -> list[str]:
    return [
        "build",
        "--generator",
        "litellm:openai/fake",
        "--litellm-options",
        MOCK,
        "--limit",
        "4",
        "--k",
        "3",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def test_build_then_resume_then_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data" / "train.jsonl"
    assert main(_build(out)) == 0
    printed = capsys.readouterr().out
    assert "built 4 question(s), skipped 0" in printed
    assert "tokens/s" in printed
    assert "labels: question 4, process 4, outcome 24" in printed
    assert main([*_build(out, "--json")]) == 0  # everything is there already
    result = json.loads(capsys.readouterr().out)
    assert (result["run"]["built"], result["run"]["skipped"]) == (0, 4)
    assert result["summary"]["questions"] == 4
    assert main(["summary", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == result["summary"]


def test_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "train.jsonl"
    assert main(_build(out)) == 0
    capsys.readouterr()
    assert main(_build(out, "--k", "5")) == 2
    assert "k: 3 in the file, 5 now" in capsys.readouterr().err
    args = _build(out)
    args[args.index("--limit") : args.index("--limit") + 2] = []
    assert main(args) == 2
    assert "give --limit" in capsys.readouterr().err
    assert main([*_build(tmp_path / "x.jsonl", "--task", "trivia")]) == 2
    assert "unknown task 'trivia'" in capsys.readouterr().err
    assert main(["summary", str(tmp_path / "missing.jsonl")]) == 2


def test_register_adds_the_data_command() -> None:
    import argparse

    from guardrail.cli import data

    parser = argparse.ArgumentParser()
    data.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "build", "--out", "x.jsonl", "--difficulty", "1,3"])
    assert args.difficulty == (1, 3)
    assert args.k == 8
    assert callable(args.func)
