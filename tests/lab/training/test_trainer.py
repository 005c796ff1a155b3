"""Training on the tiny random Llama: split, objectives, artifact, resume after a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.lab.data.store import LabelStore
from guardrail.lab.training.config import TrainConfig
from guardrail.lab.training.examples import load_examples, split_by_question
from guardrail.lab.training.trainer import train

QUESTIONS = {
    f"q{i}": (f"What is {i} + {i}?", [f"{i} + {i} = {2 * i}.\n", f"So the answer is {2 * i}."])
    for i in range(6)
}


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.jsonl"
    with LabelStore(path, {"task": "test"}) as store:
        for number, (qid, (question, lines)) in enumerate(QUESTIONS.items()):
            records = [
                {"text_kind": "question", "question": question, "prefix": "", "label": 0.5},
                {"text_kind": "process", "question": question, "prefix": lines[0],
                 "label": 0.25 * (number % 4)},
                {"text_kind": "outcome", "question": question, "prefix": "".join(lines),
                 "label": float(number % 2)},
            ]  # fmt: skip
            store.commit(qid, records)
    return path


@pytest.fixture
def base_model(tmp_path: Path, tiny: tuple[Any, Any]) -> str:
    model, tokenizer = tiny
    path = tmp_path / "base"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def _config(labels: Path, base: str, out: Path, **overrides: Any) -> TrainConfig:
    settings: dict[str, Any] = {
        "data": (str(labels),),
        "out": str(out),
        "base_model": base,
        "max_steps": 6,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "warmup_steps": 1,
        "dev_fraction": 0.34,
        "checkpoint_every": 2,
        "lora_r": 2,
    }
    settings.update(overrides)
    return TrainConfig(**settings)


def test_split_never_leaks_a_question(labels: Path) -> None:
    examples = load_examples([labels])
    train_set, dev_set = split_by_question(examples, 0.34, seed=3)
    assert dev_set
    assert not {e.question_id for e in train_set} & {e.question_id for e in dev_set}
    assert len(train_set) + len(dev_set) == len(examples) == 18


@pytest.mark.parametrize("method", ["ift", "value_head"])
def test_training_writes_a_loadable_artifact(
    labels: Path, base_model: str, tmp_path: Path, method: str
) -> None:
    from guardrail.models import clear_model_cache
    from guardrail.scorers import create_scorer

    out = tmp_path / f"artifact-{method}"
    result = train(_config(labels, base_model, out, method=method), log=lambda _: None)
    assert result.steps == 6
    meta = json.loads((out / "finece.json").read_text())
    assert meta["kind"] == method
    assert meta["base_model"] == base_model
    assert meta["label_stats"]["train"]["examples"] + meta["label_stats"]["dev"]["examples"] == 18
    assert set(meta["dev_metrics"]) == {"loss", "mae", "brier"}
    curve = [json.loads(line) for line in (out / "learning_curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert (out / "learning_curve.png").read_bytes().startswith(b"\x89PNG")
    clear_model_cache()
    scorer = create_scorer(str(out))
    assert type(scorer).__name__ == (
        "ValueHeadScorer" if method == "value_head" else "FineCEScorer"
    )
    value = scorer.score(*QUESTIONS["q1"][0:1], "2")
    assert 0.0 <= value <= 1.0
    from guardrail.calibration import PlattMap

    mapping = PlattMap.from_dict(meta["calibration"])
    assert scorer.calibration == mapping  # type: ignore[attr-defined]
    fit = meta["calibration_fit"]
    assert fit["examples"] == meta["label_stats"]["dev"]["examples"]
    assert fit["dev_brier_calibrated"] <= fit["dev_brier_raw"] + 1e-9
    raw = create_scorer(str(out), calibrated=False)
    raw_value = raw.score(*QUESTIONS["q1"][0:1], "2")
    assert value == pytest.approx(float(mapping.apply([raw_value])[0]), abs=1e-5)


def test_ift_training_lowers_the_loss(labels: Path, base_model: str, tmp_path: Path) -> None:
    out = tmp_path / "fit"
    train(_config(labels, base_model, out, max_steps=30, dev_fraction=0.0), log=lambda _: None)
    losses = [
        json.loads(line)["loss"]
        for line in (out / "learning_curve.jsonl").read_text().splitlines()
        if '"loss"' in line
    ]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_a_crashed_run_resumes_to_the_same_result(
    labels: Path, base_model: str, tmp_path: Path
) -> None:
    from guardrail.lab.training.objectives import make_objective
    from guardrail.scorers.finece import FineCEScorer

    reference_out = tmp_path / "uninterrupted"
    train(_config(labels, base_model, reference_out), log=lambda _: None)

    crashed_out = tmp_path / "crashed"

    def crash_at_step_5(line: str) -> None:
        if line.startswith("step 5/"):
            raise KeyboardInterrupt  # as if killed after the step-4 checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(_config(labels, base_model, crashed_out), log=crash_at_step_5)
    assert not (crashed_out / "finece.json").exists()
    result = train(_config(labels, base_model, crashed_out), log=lambda _: None)
    assert result.resumed_from == 4
    assert result.steps == 6

    def scores(out: Path) -> list[float]:
        objective = make_objective(_config(labels, base_model, out))
        objective.load(out)
        model = objective.model.merge_and_unload()
        scorer = FineCEScorer(model, objective.tokenizer)
        return scorer.score_batch([(q, "".join(lines)) for q, lines in QUESTIONS.values()])

    assert scores(crashed_out) == pytest.approx(scores(reference_out), abs=1e-5)


def test_resume_with_other_settings_is_refused(
    labels: Path, base_model: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    train(_config(labels, base_model, out), log=lambda _: None)
    with pytest.raises(GuardrailConfigError, match="different settings"):
        train(_config(labels, base_model, out, learning_rate=5e-3), log=lambda _: None)


def test_missing_label_file_is_named(tmp_path: Path, base_model: str) -> None:
    with pytest.raises(GuardrailConfigError, match="label file not found"):
        train(_config(tmp_path / "nope.jsonl", base_model, tmp_path / "o"), log=lambda _: None)


def test_kind_weights_resample_each_epoch(labels: Path, base_model: str, tmp_path: Path) -> None:
    from collections import Counter

    from guardrail.lab.training.trainer import _epoch_order

    config = _config(
        labels,
        base_model,
        tmp_path / "weighted",
        max_steps=None,
        epochs=1.0,
        dev_fraction=0.0,
        kind_weights={"question": 3.0, "outcome": 0.5},
    )
    examples = load_examples([labels])
    for epoch in (0, 1):
        order = _epoch_order(examples, config, epoch)
        kinds = Counter(examples[i].kind for i in order)
        assert kinds == {"question": 18, "process": 6, "outcome": 3}
        per_question = Counter(i for i in order if examples[i].kind == "question")
        assert set(per_question.values()) == {3}
    result = train(config, log=lambda _: None)
    assert result.steps == 7  # ceil(27 examples / batch 4)


def test_unknown_kind_weight_is_refused(labels: Path, base_model: str, tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown label kind 'answer'"):
        _config(labels, base_model, tmp_path / "x", kind_weights={"answer": 2.0})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", {}), ("question=2, process=1.5", {"question": 2.0, "process": 1.5})],
)
def test_kind_weight_flag_parses(text: str, expected: dict[str, float]) -> None:
    from guardrail.cli.train import parse_kind_weights

    assert parse_kind_weights(text) == expected


@pytest.mark.parametrize("text", ["question", "process=lots", "=2"])
def test_bad_kind_weight_flag_is_named(text: str) -> None:
    from guardrail.cli.train import parse_kind_weights

    with pytest.raises(GuardrailConfigError, match="--kind-weights"):
        parse_kind_weights(text)


def test_learning_curve_keeps_the_last_record_of_a_replayed_step(tmp_path: Path) -> None:
    from guardrail.lab.training.curve import read_learning_curve

    path = tmp_path / "curve.jsonl"
    lines = [
        {"step": 1, "loss": 2.0},
        {"step": 2, "loss": 1.5},
        {"step": 2, "loss": 1.4},  # replayed after a resume
        {"step": 2, "final_dev": {"loss": 1.7}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    assert read_learning_curve(path) == ([(1, 2.0), (2, 1.4)], [(2, 1.7)])
    path.write_text('{"step": 1, "loss": 2.0}\n{"loss": 1.0}\n')
    with pytest.raises(GuardrailConfigError, match=r"curve.jsonl:2: malformed"):
        read_learning_curve(path)


def _example(qid: str, kind: str, label: float) -> Any:
    from guardrail.lab.training.examples import TrainingExample

    return TrainingExample(qid, f"question {qid}", "" if kind == "question" else "x", label, kind)


def test_mixed_weight_favours_questions_answered_both_ways(
    labels: Path, base_model: str, tmp_path: Path
) -> None:
    from collections import Counter

    from guardrail.lab.training.trainer import _epoch_order, _epoch_size, mixed_questions

    examples = [
        _example("mixed", "question", 0.5),
        _example("mixed", "outcome", 1.0),
        _example("mixed", "outcome", 0.0),
        _example("mixed", "process", 0.5),
        _example("easy", "question", 1.0),
        _example("easy", "outcome", 1.0),
        _example("easy", "outcome", 1.0),
        _example("easy", "process", 1.0),
    ]
    assert mixed_questions(examples) == {"mixed"}
    config = _config(labels, base_model, tmp_path / "m", max_steps=None, mixed_weight=3.0)
    order = _epoch_order(examples, config, 0)
    counts = Counter((examples[i].question_id, examples[i].kind) for i in order)
    assert counts == {
        ("mixed", "question"): 1,  # the question label is the same for every answer: not weighted
        ("mixed", "outcome"): 6,
        ("mixed", "process"): 3,
        ("easy", "question"): 1,
        ("easy", "outcome"): 2,
        ("easy", "process"): 1,
    }
    assert _epoch_size(examples, config) == len(order) == 14
    plain = _config(labels, base_model, tmp_path / "p", max_steps=None)
    assert sorted(_epoch_order(examples, plain, 0)) == list(range(8))


def test_mixed_weight_is_validated(labels: Path, base_model: str, tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="mixed_weight"):
        _config(labels, base_model, tmp_path / "x", mixed_weight=-1.0)


def test_stage_maps_are_fitted_per_label_kind() -> None:
    import random

    from guardrail.calibration import PlattMap
    from guardrail.lab.training.trainer import _stage_calibration

    rng = random.Random(0)
    dev, predictions = [], []
    for index in range(60):  # outcome: predictions too high; process: too low; question: 5 only
        label = float(index % 2)
        dev.append(_example(f"o{index}", "outcome", label))
        predictions.append(min(0.99, 0.5 + 0.4 * label + rng.uniform(0, 0.09)))
    for index in range(40):
        label = float(index % 2)
        dev.append(_example(f"p{index}", "process", label))
        predictions.append(max(0.01, 0.1 + 0.3 * label - rng.uniform(0, 0.09)))
    for index in range(5):
        dev.append(_example(f"q{index}", "question", 0.5))
        predictions.append(0.4)
    result = _stage_calibration(dev, predictions, lambda _: None)
    maps = {k: PlattMap.from_dict(v) for k, v in result["calibration_by_stage"].items()}
    assert set(maps) == {"outcome", "process"}
    assert "pooled map" in result["calibration_by_stage_fit"]["question"]
    for kind in ("outcome", "process"):
        fit = result["calibration_by_stage_fit"][kind]
        assert fit["dev_brier_calibrated"] < fit["dev_brier_raw"]
    # the same raw number means more for a process estimate (its scores run low here)
    assert maps["process"].apply([0.35])[0] > maps["outcome"].apply([0.35])[0] + 0.3


def test_question_samples_are_nested_and_keep_whole_questions(labels: Path) -> None:
    from guardrail.lab.training.examples import sample_questions

    examples = load_examples([labels])
    small, large = sample_questions(examples, 2, 7), sample_questions(examples, 4, 7)
    assert len({e.question_id for e in small}) == 2
    assert len({e.question_id for e in large}) == 4
    assert {e.question_id for e in small} <= {e.question_id for e in large}
    assert len(small) == 2 * 3  # every label of a kept question
    assert sample_questions(examples, 100, 7) == examples


def test_a_checkpoint_from_before_a_new_setting_resumes_at_its_default(
    labels: Path, base_model: str, tmp_path: Path
) -> None:
    from guardrail.lab.training.trainer import _Checkpoint

    config = _config(labels, base_model, tmp_path / "c")
    checkpoint = _Checkpoint(tmp_path / "c" / "checkpoint", config)
    older = {k: v for k, v in config.model_dump(mode="json").items() if k != "max_questions"}
    assert checkpoint._same_run(older)  # written before max_questions existed: same run
    changed = _Checkpoint(
        tmp_path / "c" / "checkpoint", config.model_copy(update={"max_questions": 3})
    )
    assert not changed._same_run(older)  # a non-default new setting is another run
    assert not checkpoint._same_run({**older, "lora_r": 99})
