"""Training against hostile inputs: adversarial-suffix augmentation, safe checkpoint loading."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from guardrail.adversarial import SUFFIX_FAMILIES, adversarial_suffixes
from guardrail.data.store import LabelStore
from guardrail.errors import GuardrailConfigError
from guardrail.training.config import TrainConfig
from guardrail.training.examples import TrainingExample, augment_adversarial
from guardrail.training.trainer import train


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
        assert copy.prefix[len(original.prefix) :] in suffixes
    assert augment_adversarial(examples, 0.5, seed=3) == out  # seeded
    assert augment_adversarial(examples, 0.0, seed=3) == examples
    assert {"down", "up"} <= {d for variants in SUFFIX_FAMILIES.values() for d in variants}


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
        ]
    )
    assert config_from_args(args).adversarial_augment == 0.3
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
