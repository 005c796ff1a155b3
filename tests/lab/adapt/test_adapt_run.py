"""``guardrail adapt`` end to end on a fake generator: the folder, its card, policy and errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from guardrail.cli import main
from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError
from guardrail.lab.adapt.build import AdaptModels
from guardrail.lab.adapt.run import AdaptSettings, adapt, prepare
from guardrail.policy.schema import Policy
from guardrail.scorers import create_scorer, reads_generator_logprobs
from guardrail.scorers.card import check_model
from guardrail.testing import FakeAnswerGenerator, ScriptedScorer

GENERATOR = "builtin:smollm2-135m-instruct"
ANSWERS = {f"What is the code of item {i}?": f"code{i}" for i in range(36)}


def _data(tmp_path: Path, answers: dict[str, str] = ANSWERS) -> Path:
    path = tmp_path / "questions.jsonl"
    rows = [{"question": q, "answer": a} for q, a in answers.items()]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _models(generator: FakeAnswerGenerator) -> AdaptModels:
    def finece(question: str, answer: str) -> float:
        if not answer:
            return 0.2 + 0.6 * generator.chance(question)
        return 0.35 if "not " in answer else 0.6

    return AdaptModels(generator, generator, ScriptedScorer(finece, name="finece"))


def _settings(tmp_path: Path, **changes: Any) -> AdaptSettings:
    base: dict[str, Any] = {
        "generator": GENERATOR,
        "task": "short-answer",
        "data": changes.get("data") or str(_data(tmp_path)),
        "out": tmp_path / "guard",
        "k": 4,
        "finetune_steps": 0,
        "n_bootstrap": 50,
    }
    return AdaptSettings(**(base | changes))


def _never(settings: AdaptSettings) -> AdaptModels:
    raise AssertionError("a model was loaded before the input was checked")


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FakeAnswerGenerator, Any]:
    tmp_path = tmp_path_factory.mktemp("adapt")
    generator = FakeAnswerGenerator(ANSWERS)
    result = adapt(_settings(tmp_path), _models(generator))
    return tmp_path, generator, result


def test_the_folder_records_the_split_every_candidate_and_the_choice(adapted: Any) -> None:
    tmp_path, _, result = adapted
    data = json.loads((tmp_path / "guard" / "adapt.json").read_text())
    assert data["generator"] == GENERATOR
    assert data["split"] == {"seed": 0, "fit": 18, "dev": 9, "test": 9, "test_share": 0.25}
    assert data["data"]["sha256"]
    assert data["data"]["path"].endswith("questions.jsonl")
    comparison = data["comparison"]
    assert comparison["choice"] == result.comparison.choice
    tested = {name: c["test"]["answers"] for name, c in comparison["candidates"].items()}
    assert set(tested.values()) == {9}  # every candidate on the same nine test answers
    assert "--finetune-steps 0" in comparison["not_fitted"]["finetune"]
    assert comparison["candidates"]["agreement-hybrid"]["deployable"] is False


def test_the_folder_is_a_scorer_reference_for_that_generator(adapted: Any) -> None:
    tmp_path, generator, result = adapted
    ref = str(tmp_path / "guard")
    recompute = generator.token_logprobs
    scorer = create_scorer(ref, recompute=lambda q, a: recompute(q, a))
    assert check_model(scorer, GENERATOR) is False
    with pytest.warns(UserWarning, match="not trained or calibrated"):
        assert check_model(scorer, "gpt-4o-mini") is True
    if result.comparison.choice.startswith("logprob:"):
        assert reads_generator_logprobs(ref)
        question = next(iter(ANSWERS))
        right, wrong = scorer.score_batch(
            [(question, f"The answer is {ANSWERS[question]}."), (question, "The answer is no.")]
        )
        assert right > wrong


def test_scorer_info_shows_the_card(adapted: Any, capsys: pytest.CaptureFixture[str]) -> None:
    tmp_path, _, result = adapted
    assert main(["scorer", "info", str(tmp_path / "guard"), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["kind"] == "adapted"
    assert card["generators"] == [GENERATOR]
    assert card["heldout"]["choice"] == result.comparison.choice
    assert set(card["heldout"]["candidates"]) >= {"logprob:mean_logprob", "finece", "hybrid"}
    assert card["dev"]["data"]["sha256"]
    assert any(note.startswith("rule: ") for note in card["notes"])
    assert main(["scorer", "info", str(tmp_path / "guard")]) == 0
    assert "why" in capsys.readouterr().out


def test_policy_yaml_is_a_valid_policy_on_the_folder(adapted: Any) -> None:
    tmp_path, _, result = adapted
    path = tmp_path / "guard" / "policy.yaml"
    policy = Policy.from_file(path)
    assert Path(policy.scorer.model) == (tmp_path / "guard").resolve()
    assert "extends the preset 'default'" in path.read_text()
    threshold = result.comparison.threshold["threshold"]
    if threshold is not None:
        outcome = [r for r in policy.rules if r.name == "weak-outcome"]
        assert outcome
        assert f"{round(threshold, 4)}" in path.read_text()


def test_a_second_run_resumes_without_sampling_again(adapted: Any) -> None:
    tmp_path, _, _ = adapted
    again = FakeAnswerGenerator(ANSWERS)
    adapt(_settings(tmp_path), _models(again))
    assert again.calls == 0


class _SlowGenerator(FakeAnswerGenerator):
    """Takes ``delay`` seconds per sampling call."""

    delay = 0.3

    def sample(self, prompts: Any, n: int, **options: Any) -> Any:
        time.sleep(self.delay)
        return super().sample(prompts, n, **options)


def test_a_budget_stops_cleanly_and_uses_what_was_built(tmp_path: Path) -> None:
    budget_s = 1.0  # the first chunk of 8 questions (two calls) starts, then time is up
    settings = _settings(tmp_path, budget_minutes=budget_s / 60)
    result = adapt(settings, _models(_SlowGenerator(ANSWERS)))
    note = next(n for n in result.notes if n.startswith("budget: labels built for"))
    built = int(note.split()[4])
    assert 0 < built < 27
    data = json.loads((tmp_path / "guard" / "adapt.json").read_text())
    assert data["labels"]["stopped_by_budget"] is True
    assert data["labels"]["done"] == built


def test_a_budget_too_short_for_any_label_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GuardrailRuntimeError, match="no fit or dev labels"):
        adapt(_settings(tmp_path, budget_minutes=1e-6), _models(FakeAnswerGenerator(ANSWERS)))


def test_too_few_questions_fail_before_any_model(tmp_path: Path) -> None:
    few = dict(list(ANSWERS.items())[:5])
    settings = _settings(tmp_path, data=str(_data(tmp_path, few)))
    with pytest.raises(
        GuardrailConfigError, match=r"5 distinct question.*at least 1[0-9] are needed"
    ):
        adapt(settings, load=_never)


def test_a_row_without_a_checkable_answer_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = _data(tmp_path)
    lines = path.read_text().splitlines()
    lines[3] = json.dumps({"question": "What is missing?", "answer": " "})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GuardrailConfigError, match=rf"{path}:4"):
        adapt(_settings(tmp_path, data=str(path)), load=_never)


@pytest.mark.parametrize(
    ("generator", "says"),
    [
        ("litellm:openai/gpt-4o-mini", "must be a local model"),
        ("logprob:mean_logprob", "not a generator"),
        ("builtin:finece-nonexistent", "not a built-in generator"),
    ],
)
def test_a_generator_that_cannot_sample_fails_before_any_model(
    tmp_path: Path, generator: str, says: str
) -> None:
    with pytest.raises(GuardrailConfigError, match=says):
        adapt(_settings(tmp_path, generator=generator), load=_never)


def test_a_scorer_folder_is_not_a_generator(adapted: Any, tmp_path: Path) -> None:
    folder = str(adapted[0] / "guard")
    with pytest.raises(GuardrailConfigError, match="a scorer folder"):
        prepare(_settings(tmp_path, generator=folder))


def test_reviewers_verdicts_join_the_labels(tmp_path: Path) -> None:
    from guardrail.review import open_review_store
    from guardrail.testing.reviews import Decided, add_decided

    db = tmp_path / "reviews.db"
    store = open_review_store(str(db))
    extra = {f"Which colour is flag {i}?": f"colour{i}" for i in range(8)}
    add_decided(
        store,
        [
            Decided(0.5, "approve" if i % 2 else "reject", q, f"The answer is {a}.", GENERATOR)
            for i, (q, a) in enumerate(extra.items())
        ],
    )
    store.close()
    generator = FakeAnswerGenerator(ANSWERS | extra)
    result = adapt(_settings(tmp_path, from_review=str(db)), _models(generator))
    rows = [
        json.loads(line)
        for line in (tmp_path / "guard" / "work" / "rows.jsonl").read_text().splitlines()
    ]
    reviewed = [r for r in rows if r["question"] in extra]
    assert len(reviewed) == 8
    assert {r["stage"] for r in reviewed} == {"outcome"}
    assert {r["target"] for r in reviewed} == {0.0, 1.0}
    data = json.loads((tmp_path / "guard" / "adapt.json").read_text())
    assert "8 decided review item(s)" in data["review"]
    assert sum(data["split"][p] for p in ("fit", "dev", "test")) == 36 + 8
    assert result.comparison.choice


def test_the_command_line_runs_adapt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import guardrail.lab.adapt.run as run

    generator = FakeAnswerGenerator(ANSWERS)
    monkeypatch.setattr(run, "load_models", lambda settings: _models(generator))
    data = _data(tmp_path)
    out = tmp_path / "cli"
    argv = ["adapt", "--generator", GENERATOR, "--task", "short-answer", "--data", str(data)]
    options = ["--k", "3", "--finetune-steps", "0", "--bootstrap", "20"]
    status = main([*argv, "--out", str(out), *options])
    printed = capsys.readouterr().out
    assert status == 0
    assert "chose " in printed
    assert "test AUROC" in printed
    assert (out / "adapt.json").is_file()
    assert (out / "policy.yaml").is_file()
