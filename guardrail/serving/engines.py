"""Launch lines of the GPU engines (SGLang, vLLM) serving a FineCE scorer artifact.

A scorer artifact is a LoRA adapter on a base model; both engines serve the base model with
the adapter loaded under a name (``finece``) that requests pick. The paths printed are this
machine's: run the line where the artifact and the base model are (``bench/remote_gpu.sh``).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Literal

from guardrail.errors import GuardrailConfigError

__all__ = ["EngineName", "engine_command"]

EngineName = Literal["sglang", "vllm"]


def engine_command(
    engine: EngineName,
    *,
    model: str = "builtin:finece-smollm2",
    adapter: str = "finece",
    host: str = "127.0.0.1",
    port: int = 8000,
    dtype: str = "auto",
) -> str:
    """The shell line that serves ``model`` (an adapter artifact) on ``engine``."""
    from guardrail.models.loader import base_model_ref, resolve_model_path

    location = resolve_model_path(model)
    if not isinstance(location, Path) or not (location / "adapter_config.json").is_file():
        raise GuardrailConfigError(
            f"{model!r} is not a LoRA adapter artifact; SGLang and vLLM serve the scorer as "
            "a base model plus its adapter"
        )
    rank = int(json.loads((location / "adapter_config.json").read_text()).get("r", 8))
    base = resolve_model_path(base_model_ref(model))
    if engine == "vllm":
        argv = [
            "vllm", "serve", str(base),
            "--enable-lora", "--lora-modules", f"{adapter}={location}",
            "--max-lora-rank", str(rank), "--max-loras", "1",
            "--enable-prefix-caching", "--max-logprobs", "20",
            "--dtype", dtype, "--host", host, "--port", str(port),
        ]  # fmt: skip
    elif engine == "sglang":
        argv = [
            "python", "-m", "sglang.launch_server", "--model-path", str(base),
            "--enable-lora", "--lora-paths", f"{adapter}={location}",
            "--max-lora-rank", str(rank), "--max-loras-per-batch", "4",
            "--dtype", dtype, "--host", host, "--port", str(port),
        ]  # fmt: skip
    else:
        raise GuardrailConfigError(f"unknown engine {engine!r}; valid: sglang, vllm")
    return shlex.join(argv)
