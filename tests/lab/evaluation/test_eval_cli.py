"""``guardrail eval`` through the real entry point, with the models swapped for tiny ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import guardrail.cli as cli
from guardrail.generation import LocalGenerator
from guardrail.lab.evaluation import SUMMARY_KEYS
from guardrail.scorers.finece import FineCEScorer


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch, scripted: Any, tiny_scorer: Any) -> list[str]:
    """Register the sub-command and load the tiny models whatever the references."""
    loaded: list[str] = []

    def generator_from_ref(ref: str, **kwargs: Any) -> Any:
        loaded.append(f"generator:{ref}")
        return scripted

    def scorer_from_ref(ref: str, **kwargs: Any) -> Any:
        loaded.append(f"scorer:{ref}")
        return tiny_scorer

    if "guardrail.cli.eval" not in cli._COMMAND_MODULES:
        monkeypatch.setattr(cli, "_COMMAND_MODULES", (*cli._COMMAND_MODULES, "guardrail.cli.eval"))
    monkeypatch.setattr(LocalGenerator, "from_ref", staticmethod(generator_from_ref))
    monkeypatch.setattr(FineCEScorer, "from_ref", staticmethod(scorer_from_ref))
    return loaded


def test_eval_end_to_end(
    patched: list[str],
    questions_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report" / "eval.json"
    argv = ["eval", "--scorer", "S", "--generator", "G", "--task", "numeric"]
    argv += ["--data", str(questions_file), "--limit", "3", "--json", str(out)]
    argv += ["--max-new-tokens", "80", "--self-consistency", "1", "--bootstrap", "10", "--quiet"]
    assert cli.main(argv) == 0
    assert patched == ["generator:G", "scorer:S"]
    printed = json.loads(capsys.readouterr().out)
    assert tuple(printed["summary"]) == SUMMARY_KEYS
    report = json.loads(out.read_text())
    assert report["meta"]["answers"] == 3
    assert report["meta"]["task"] == "gsm8k"
    assert report["config"]["self_consistency"] == 1
    assert report["methods"]["self_consistency"]["status"] == "ok"
    within = report["within_question"]
    assert within["questions"] == 3
    assert within["answers_per_question"] == 2  # the greedy answer and one sample
    assert "within-question AUROC" in out.with_suffix(".md").read_text()
    for key in ("markdown", "reliability", "positions"):
        assert Path(printed["files"][key]).is_file()
    assert printed["files"]["markdown"] == str(out.with_suffix(".md"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--task", "poetry"], "unknown task 'poetry'"),
        (["--task", "numeric"], "reads its questions from a file"),
        (["--task", "numeric", "--data", "/nonexistent.jsonl"], "data file not found"),
        (["--task", "synthetic", "--limit", "0"], "--limit must be >= 1"),
        (["--task", "synthetic", "--limit", "2", "--dev-fraction", "1.5"], "dev_fraction"),
        (["--task", "synthetic", "--limit", "2", "--strategies", "random"], "strategies must"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    patched: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    argv = ["eval", "--json", str(tmp_path / "x.json"), *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    if "poetry" in extra:
        assert "gsm8k" in err
        assert "numeric" in err
    assert patched == []  # no model is loaded for a bad command line
    assert not (tmp_path / "x.json").exists()


def test_help_lists_the_options(patched: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"])
    text = capsys.readouterr().out
    for option in ("--scorer", "--generator", "--task", "--data", "--limit", "--json"):
        assert option in text


def test_value_head_artifacts_are_scored_by_their_own_backend(
    patched: list[str],
    monkeypatch: pytest.MonkeyPatch,
    questions_file: Path,
    tiny_scorer: Any,
    tmp_path: Path,
) -> None:
    from guardrail.scorers.value_head import ValueHeadScorer

    artifact = tmp_path / "vh"
    artifact.mkdir()
    (artifact / "finece.json").write_text(json.dumps({"format": 1, "kind": "value_head"}))

    def value_head_from_ref(ref: str, **kwargs: Any) -> Any:
        patched.append(f"value_head:{ref}")
        return tiny_scorer

    monkeypatch.setattr(ValueHeadScorer, "from_ref", staticmethod(value_head_from_ref))
    out = tmp_path / "eval.json"
    argv = ["eval", "--scorer", str(artifact), "--generator", "G", "--task", "numeric"]
    argv += ["--data", str(questions_file), "--limit", "1", "--json", str(out), "--quiet"]
    argv += ["--max-new-tokens", "20", "--self-consistency", "0", "--bootstrap", "0"]
    assert cli.main(argv) == 0
    assert patched == ["generator:G", f"value_head:{artifact}"]


def test_without_json_the_report_lands_beside_the_caller(
    patched: list[str],
    questions_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["eval", "--scorer", "S", "--generator", "G", "--task", "numeric", "--quiet"]
    argv += ["--data", str(questions_file), "--limit", "1", "--max-new-tokens", "20"]
    argv += ["--self-consistency", "0", "--bootstrap", "0"]
    assert cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["files"]["json"] == "eval-gsm8k.json"
    assert json.loads((tmp_path / "eval-gsm8k.json").read_text())["meta"]["answers"] == 1


@pytest.mark.parametrize(
    ("task", "rows", "message"),
    [
        ("short-answer", ['{"question": "q", "answer": "a"}', '{"question": "q2"}'], ":2: task"),
        ("short-answer", ['{"question": "q", "answer": "a"}', "not json"], ":2: not JSON"),
        ("short-answer", [], "holds no rows"),
        (
            "multiple-choice",
            ['{"question": "q", "choices": ["x", "y"], "answer": "C"}'],
            ":1: item data-1: answer 'C' is not a choice letter (A to B)",
        ),
        (
            "multiple-choice",
            ['{"question": "q", "choices": "xyz", "answer": "A"}'],
            ":1: item data-1: choices must be a list",
        ),
    ],
)
def test_a_bad_user_file_is_named_with_its_line(
    patched: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    task: str,
    rows: list[str],
    message: str,
) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(row + "\n" for row in rows))
    argv = ["eval", "--task", task, "--data", str(data), "--json", str(tmp_path / "x.json")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "<policy>" not in err
    assert patched == []
