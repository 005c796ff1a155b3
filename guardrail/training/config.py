"""Validated training settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TrainConfig"]

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainConfig(BaseModel):
    """Everything that determines a training run (saved in the artifact and checkpoints).

    ``method`` is ``ift`` (instruction fine-tuning: the model learns to write the confidence,
    loss on the two readout positions only) or ``value_head`` (regression of the label from the
    last hidden state). ``lora=False`` fine-tunes every weight. The optimiser follows the paper
    (AdamW, betas 0.9/0.5); warm-up is capped at a tenth of the run for short CPU runs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    data: tuple[str, ...] = Field(min_length=1)
    out: str
    base_model: str = "builtin:smollm2-135m-instruct"
    method: Literal["ift", "value_head"] = "ift"
    lora: bool = True
    lora_r: int = Field(default=8, ge=1, le=256)
    lora_alpha: int = Field(default=16, ge=1)
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    epochs: float = Field(default=2.0, gt=0.0, le=100.0)
    max_steps: int | None = Field(default=None, ge=1)
    learning_rate: float = Field(default=3e-4, gt=0.0, lt=1.0)
    beta1: float = Field(default=0.9, ge=0.0, lt=1.0)
    beta2: float = Field(default=0.5, ge=0.0, lt=1.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    warmup_steps: int = Field(default=300, ge=0)
    batch_size: int = Field(default=8, ge=1)
    max_length: int = Field(default=768, ge=32)
    dev_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    seed: int = 0
    checkpoint_every: int = Field(default=25, ge=1)
    eval_every: int = Field(default=0, ge=0)
    device: str = "auto"
