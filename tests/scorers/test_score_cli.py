"""``guardrail score``: answer from a file or stdin, capped checkpoints, hostile bytes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import guardrail.cli as cli
from guardrail.scorers.finece import FineCEScorer


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, tiny_scorer: Any, capsys: pytest.CaptureFixture[str]
) -> Any:
    loaded: list[tuple[str, dict[str, Any]]] = []

    def from_ref(ref: str, **kwargs: Any) -> Any:
        loaded.append((ref, kwargs))
        return tiny_scorer

    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("guardrail.cli.score",))
    monkeypatch.setattr(FineCEScorer, "from_ref", staticmethod(from_ref))

    def run(*argv: str) -> tuple[int, Any, str]:
        code = cli.main(["score", "--question", "What is 2 + 2?", *argv])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if "--json" in argv and code == 0 else out), err

    run.loaded = loaded  # type: ignore[attr-defined]
    return run


def test_defaults_to_the_shipped_scorer(run: Any) -> None:
    code, _, _ = run("--answer", "4")
    assert code == 0
    assert run.loaded[0][0] == "builtin:finece-smollm2"
    assert run.loaded[0][1]["max_input_tokens"] == 4096


def test_long_answer_file_is_scored_a_bounded_number_of_times(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "answer.txt"
    path.write_text("".join(f"step {i}\n" for i in range(3000)) + "so 4", encoding="utf-8")
    code, out, _ = run("--answer-file", str(path), "--max-checkpoints", "5", "--json")
    assert code == 0
    stages = [row["stage"] for row in out["positions"]]
    assert stages == ["question"] + ["process"] * 5 + ["outcome"]
    assert out["positions"][-2]["chars"] == path.read_text().rindex("\n") + 1


def test_answer_from_stdin_with_invalid_utf8(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"2 + 2\n= \xff\xfe 4\n")))
    code, out, _ = run("--answer-file", "-", "--json")
    assert code == 0
    assert out["positions"][-1]["stage"] == "outcome"


def test_lone_surrogate_argument(run: Any) -> None:
    code, out, _ = run("--answer", "\udcff\ud800 4", "--json")  # what argv makes of bad bytes
    assert code == 0
    assert 0.0 <= out["positions"][-1]["confidence"] <= 1.0


def test_missing_answer_file_is_a_config_error(run: Any, tmp_path: Path) -> None:
    code, _, err = run("--answer-file", str(tmp_path / "nope.txt"))
    assert code == 2
    assert "--answer-file" in err
