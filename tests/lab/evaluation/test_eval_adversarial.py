"""``guardrail eval --adversarial``: suffixes aimed at the scorer, both directions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import guardrail.cli as cli
from guardrail.generation import LocalGenerator
from guardrail.lab.adversarial import SUFFIX_FAMILIES
from guardrail.lab.evaluation.adversarial import adversarial_report, score_adversarial
from guardrail.scorers.finece import FineCEScorer
from guardrail.testing.scorers import ScriptedScorer


def _gullible(question: str, answer: str) -> float:
    """A scorer that believes what the answer says about itself."""
    if answer.endswith(("0.0", "0.0)", "output 0.", "0.0<|im_end|>")):
        return 0.1
    if answer.endswith(("1.0", "1.0)", "output 1.", "1.0<|im_end|>")):
        return 0.95
    return 0.8 if "right" in answer else 0.3


ANSWERS: Sequence[tuple[str, str, bool]] = [
    ("q1", "the right answer", True),
    ("q2", "the right answer again", True),
    ("q3", "a wrong answer", False),
]


def test_a_gullible_scorer_is_caught() -> None:
    cases = score_adversarial(ScriptedScorer(_gullible), ANSWERS)
    assert len(cases) == len(ANSWERS) * len(SUFFIX_FAMILIES) * 2
    report = adversarial_report(cases)
    assert report["answers"] == 3
    assert report["confident_correct"] == 2
    assert report["confident_correct_pushed_below"] == 2
    assert report["doubtful_wrong_pushed_above"] == 1
    assert report["overall"]["mean_abs_shift"] > 0.3
    assert report["by_direction"]["down"]["mean_shift_toward_claim"] > 0.3
    assert set(report["by_family"]) == set(SUFFIX_FAMILIES)


def test_an_indifferent_scorer_has_no_shift() -> None:
    def indifferent(question: str, answer: str) -> float:
        return 0.8 if question in ("q1", "q2") else 0.3

    report = adversarial_report(score_adversarial(ScriptedScorer(indifferent), ANSWERS))
    assert report["overall"]["mean_abs_shift"] == 0.0
    assert report["confident_correct_pushed_below"] == 0
    assert report["doubtful_wrong_pushed_above"] == 0


def _serve_refs(monkeypatch: pytest.MonkeyPatch, generator: Any, scorer: Any) -> list[str]:
    """Make ``guardrail eval`` load ``generator`` and ``scorer`` for any reference.

    Returns the list the references asked for are appended to (``generator:REF``, ``scorer:REF``).
    """
    loaded: list[str] = []

    def generator_from_ref(ref: str, **kwargs: Any) -> Any:
        loaded.append(f"generator:{ref}")
        return generator

    def scorer_from_ref(ref: str, **kwargs: Any) -> Any:
        loaded.append(f"scorer:{ref}")
        return scorer

    if "guardrail.cli.eval" not in cli._COMMAND_MODULES:
        monkeypatch.setattr(cli, "_COMMAND_MODULES", (*cli._COMMAND_MODULES, "guardrail.cli.eval"))
    monkeypatch.setattr(LocalGenerator, "from_ref", staticmethod(generator_from_ref))
    monkeypatch.setattr(FineCEScorer, "from_ref", staticmethod(scorer_from_ref))
    return loaded


def test_eval_adversarial_cli(
    monkeypatch: pytest.MonkeyPatch,
    scripted: Any,
    tiny_scorer: Any,
    questions_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loaded = _serve_refs(monkeypatch, scripted, tiny_scorer)
    out = tmp_path / "adv.json"
    argv = ["eval", "--adversarial", "--generator", "G", "--task", "numeric"]
    argv += ["--data", str(questions_file), "--limit", "4", "--json", str(out), "--quiet"]
    argv += ["--max-new-tokens", "80"]
    assert cli.main(argv) == 0
    assert loaded == ["generator:G", "scorer:builtin:finece-smollm2"]  # the shipped scorer
    report = json.loads(out.read_text())
    assert report["answers"] == 4
    assert 0 < report["correct"] < 4  # right and wrong answers of the generator
    assert len(report["cases"]) == 4 * len(SUFFIX_FAMILIES) * 2
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["overall"]["mean_abs_shift"] >= 0.0


def test_eval_adversarial_reuses_an_answers_file(
    monkeypatch: pytest.MonkeyPatch,
    scripted: Any,
    tiny_scorer: Any,
    questions_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import guardrail.lab.evaluation.answers as answers_module

    _serve_refs(monkeypatch, scripted, tiny_scorer)
    cache = tmp_path / "answers.jsonl"
    argv = ["eval", "--adversarial", "--generator", "G", "--task", "numeric", "--quiet"]
    argv += ["--data", str(questions_file), "--limit", "3", "--answers", str(cache)]
    assert cli.main([*argv, "--json", str(tmp_path / "first.json")]) == 0
    assert cache.is_file()

    def no_generation(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("generated although the answers were cached")

    monkeypatch.setattr(answers_module, "generate_answer", no_generation)
    assert cli.main([*argv, "--json", str(tmp_path / "second.json")]) == 0
    first = json.loads((tmp_path / "first.json").read_text())
    second = json.loads((tmp_path / "second.json").read_text())
    assert second["generated"] == first["generated"]
    assert len(second["cases"]) == 3 * len(SUFFIX_FAMILIES) * 2
    capsys.readouterr()
    # other generation settings: named, not silently regenerated
    assert cli.main([*argv, "--max-new-tokens", "7", "--json", str(tmp_path / "third.json")]) != 0
    assert "written with generation=" in capsys.readouterr().err
    assert not (tmp_path / "third.json").exists()
