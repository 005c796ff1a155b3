"""Training against hostile inputs: adversarial-suffix augmentation, safe checkpoint loading."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.lab.adversarial import SUFFIX_FAMILIES, adversarial_suffixes, training_suffix
from guardrail.lab.data.store import LabelStore
from guardrail.lab.training.config import TrainConfig
from guardrail.lab.training.examples import TrainingExample, adversarial_twins, augment_adversarial
from guardrail.lab.training.trainer import train


def _examples(n: int) -> list[TrainingExample]:
    return [
        TrainingExample(f"q{i}", f"What is {i} + {i}?", f"It is {2 * i}." if i else "", i % 2, "o")
        for i in range(n)
    ]


def test_augmentation_keeps_labels_and_adds_suffixed_copies() -> None:
    examples = _examples(21)  # 20 with an answer
    out = augment_adversarial(examples, 0.5, seed=3)
    assert out[: len(examples)] == examples
    added = out[len(examples) :]
    assert len(added) == 10
    suffixes = [text for _, _, text in adversarial_suffixes()]
    by_id = {e.question_id: e for e in examples}
    for copy in added:
        original = by_id[copy.question_id]
        assert copy.label == original.label  # the answer's correctness, not the suffix's claim
        assert copy.prefix.startswith(original.prefix)
        suffix = copy.prefix[len(original.prefix) :]
        assert suffix.strip()
        assert suffix not in suffixes  # trained on other wordings than the suite measures
    assert augment_adversarial(examples, 0.5, seed=3) == out  # seeded
    assert augment_adversarial(examples, 0.0, seed=3) == examples
    assert {"down", "up"} <= {d for variants in SUFFIX_FAMILIES.values() for d in variants}


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from([None, "down", "up"]))
def test_training_suffixes_are_never_the_suite(seed: int, direction: Any) -> None:
    suite = {text for _, _, text in adversarial_suffixes()}
    rng = random.Random(seed)
    for _ in range(20):
        assert training_suffix(rng, direction) not in suite


def test_training_suffixes_vary_and_claim_their_direction() -> None:
    rng = random.Random(0)
    down = {training_suffix(rng, "down") for _ in range(400)}
    up = {training_suffix(rng, "up") for _ in range(400)}
    assert len(down) > 150
    assert len(up) > 150
    assert not down & up
    assert any("<|im_start|>" in text for text in down)  # forged turns among them
    assert any("grader" in text.lower() for text in up)


def test_twins_copy_answers_with_a_suffix_and_keep_the_label() -> None:
    batch = _examples(9)  # the first has no answer
    twins = adversarial_twins(batch, 0.5, random.Random(1))
    assert len(twins) == 4  # half of the 8 with an answer
    for index, twin in twins:
        original = batch[index]
        assert index > 0
        assert twin.question == original.question
        assert twin.label == original.label
        assert twin.prefix.startswith(original.prefix)
        assert twin.prefix != original.prefix
    assert adversarial_twins(batch, 0.5, random.Random(1)) == twins
    assert len(adversarial_twins(batch, 0.01, random.Random(1))) == 1  # at least one
    assert adversarial_twins(batch, 0.0, random.Random(1)) == []
    assert adversarial_twins(batch[:1], 1.0, random.Random(1)) == []


def test_pair_loss_pulls_the_twin_to_the_original_only() -> None:
    import torch

    from guardrail.lab.training.objectives import pair_loss

    confidence = torch.tensor([0.8, 0.2, 0.5], requires_grad=True)

    class Fake:
        def rows_loss_and_confidence(self, rows: Any) -> tuple[Any, Any]:
            assert len(rows) == 3
            return torch.zeros(3), confidence

    batch = _examples(3)[1:]
    twins = [(0, batch[0])]
    loss = pair_loss(Fake(), batch, twins, 2.0)  # type: ignore[arg-type]
    assert float(loss.detach()) == pytest.approx(2.0 * (0.5 - 0.8) ** 2)
    loss.backward()
    assert confidence.grad is not None
    assert confidence.grad.tolist() == pytest.approx([0.0, 0.0, 2.0 * 2.0 * (0.5 - 0.8)])


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    path = tmp_path / "labels.jsonl"
    with LabelStore(path, {"task": "test"}) as store:
        for i in range(6):
            question = f"What is {i} + {i}?"
            store.commit(
                f"q{i}",
                [
                    {"text_kind": "question", "question": question, "prefix": "", "label": 0.5},
                    {
                        "text_kind": "outcome",
                        "question": question,
                        "prefix": f"So {2 * i}.",
                        "label": float(i % 2),
                    },
                ],
            )
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
        "max_steps": 2,
        "batch_size": 4,
        "warmup_steps": 1,
        "dev_fraction": 0.34,
        "checkpoint_every": 1,
        "lora_r": 2,
        "calibrate": False,
    }
    settings.update(overrides)
    return TrainConfig(**settings)


def test_training_with_adversarial_augmentation(
    labels: Path, base_model: str, tmp_path: Path
) -> None:
    out = tmp_path / "augmented"
    lines: list[str] = []
    result = train(_config(labels, base_model, out, adversarial_augment=1.0), log=lines.append)
    assert result.steps == 2
    meta = json.loads((out / "finece.json").read_text())
    assert meta["training"]["adversarial_augment"] == 1.0
    # 4 training questions, 2 examples each, 4 with an answer: 4 augmented copies
    assert any("on 12 examples" in line for line in lines)


def test_training_with_twins_and_a_warm_start(
    labels: Path, base_model: str, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    first = tmp_path / "first"
    train(_config(labels, base_model, first, max_steps=3, learning_rate=1e-2), log=lambda _: None)
    lines: list[str] = []
    second = tmp_path / "second"
    config = _config(
        labels,
        base_model,
        second,
        max_steps=2,
        learning_rate=1e-12,
        adversarial_pairs=1.0,
        consistency_weight=5.0,
        init_from=str(first),
    )
    result = train(config, log=lines.append)
    assert result.steps == 2
    assert any(f"starting from the weights of {first}" in line for line in lines)
    meta = json.loads((second / "finece.json").read_text())
    assert meta["training"]["adversarial_pairs"] == 1.0
    assert meta["training"]["init_from"] == str(first)
    assert meta["init_from"]["steps"] == 3
    assert meta["init_from"]["data_sha256"] == meta["data_sha256"]
    before = load_file(str(first / "adapter_model.safetensors"))
    after = load_file(str(second / "adapter_model.safetensors"))
    assert before.keys() == after.keys()
    for key, value in before.items():  # a learning rate of 1e-12 leaves the warm start
        assert (after[key] - value).abs().max() < 1e-6, key
    fresh = _config(labels, base_model, tmp_path / "fresh", max_steps=1, learning_rate=1e-12)
    train(fresh, log=lambda _: None)
    untouched = load_file(str(tmp_path / "fresh" / "adapter_model.safetensors"))
    assert any((untouched[k] - before[k]).abs().max() > 1e-4 for k in before)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lora_r": 4}, "lora_r: artifact 2, this run 4"),
        ({"method": "value_head"}, "method: artifact 'ift', this run 'value_head'"),
    ],
)
def test_warm_start_from_a_different_run_is_refused(
    labels: Path, base_model: str, tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    first = tmp_path / "first"
    train(_config(labels, base_model, first, max_steps=1), log=lambda _: None)
    config = _config(labels, base_model, tmp_path / "b", init_from=str(first), **overrides)
    with pytest.raises(GuardrailConfigError, match=message):
        train(config, log=lambda _: None)


@pytest.mark.parametrize(
    ("ref", "message"),
    [("builtin:no-such-scorer", "no built-in scorer artifact"), ("missing", "no finece.json")],
)
def test_warm_start_needs_an_artifact(
    labels: Path, base_model: str, tmp_path: Path, ref: str, message: str
) -> None:
    config = _config(labels, base_model, tmp_path / "b", init_from=ref)
    with pytest.raises(GuardrailConfigError, match=message):
        train(config, log=lambda _: None)


def test_cli_flag_reaches_the_config(labels: Path, tmp_path: Path) -> None:
    from guardrail.cli import build_parser
    from guardrail.cli.train import config_from_args

    args = build_parser().parse_args(
        [
            "train",
            "--data",
            str(labels),
            "--out",
            str(tmp_path / "o"),
            "--adversarial-augment",
            "0.3",
            "--adversarial-pairs",
            "0.5",
            "--consistency-weight",
            "4",
            "--init-from",
            "builtin:finece-smollm2",
        ]
    )
    config = config_from_args(args)
    assert config.adversarial_augment == 0.3
    assert (config.adversarial_pairs, config.consistency_weight) == (0.5, 4.0)
    assert config.init_from == "builtin:finece-smollm2"
    args.adversarial_augment = 2.0
    with pytest.raises(GuardrailConfigError, match="adversarial_augment"):
        config_from_args(args)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_resume_never_unpickles_code(labels: Path, base_model: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_config(labels, base_model, out), log=lambda _: None)
    marker = tmp_path / "code-ran"
    state = out / "checkpoint" / "state.pt"
    state.write_bytes(pickle.dumps({"config": _Payload(marker)}))
    with pytest.raises(GuardrailConfigError, match="cannot be loaded safely"):
        train(_config(labels, base_model, out, max_steps=3), log=lambda _: None)
    assert not marker.exists()
