"""``guardrail policy validate | explain | schema``."""

import json
from pathlib import Path

import pytest

from guardrail.cli import main
from guardrail.policy import Policy

REPO = Path(__file__).resolve().parents[2]


def test_validate_valid_files(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (REPO / "policies").glob("*.yaml"))
    assert main(["policy", "validate", *files, "preset:observe"]) == 0
    out = capsys.readouterr().out
    assert out.count("OK ") == len(files) + 1


def test_validate_reports_every_invalid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: good\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrules:\n  - name: r\n    when: {stage: proces}\n    action: abort\n")
    missing = tmp_path / "missing.yaml"
    assert main(["policy", "validate", str(good), str(bad), str(missing)]) == 2
    captured = capsys.readouterr()
    assert f"OK {good}" in captured.out
    assert f"INVALID {bad}" in captured.err
    assert (
        f"{bad}:4:19: rules[0].when.stage: invalid value 'proces' "
        "(expected one of 'question', 'process', 'outcome' or 'tool_call'; did you mean 'process'?)"
    ) in captured.err
    assert f"INVALID {missing}" in captured.err


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "explain", str(REPO / "policies" / "default.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Policy 'default' (version 1).")
    assert "first matching rule decides" in out
    assert "aborted (fail-closed)" in out
    assert "1. doubtful-question: when at the question stage and confidence is below 0.2" in out


def test_explain_names_the_fallback_answer_not_the_abort_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "explain", str(REPO / "policies" / "strict.yaml")]) == 0
    out = capsys.readouterr().out
    assert "return the fallback answer 'I cannot answer this reliably.'" in out
    assert "fallback answer ('The model is unlikely" not in out


def test_explain_an_abort_without_fallback_gives_its_message() -> None:
    from guardrail.policy.actions import AbortAction
    from guardrail.policy.explain import describe_action

    text = describe_action(AbortAction(message="Stop."))
    assert text == "abort the answer with the message 'Stop.'"
    assert "fallback" not in text


def test_explain_invalid_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nnmae: x\n", encoding="utf-8")
    assert main(["policy", "explain", str(bad)]) == 2
    assert "did you mean 'name'?" in capsys.readouterr().err


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == Policy.json_schema()


def test_policy_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["policy"])
    assert info.value.code == 2
    assert "validate" in capsys.readouterr().err
