"""Validated training settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["LABEL_KINDS", "TrainConfig"]

LABEL_KINDS = ("question", "process", "outcome")
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainConfig(BaseModel):
    """Everything that determines a training run (saved in the artifact and checkpoints).

    ``method`` is ``ift`` (instruction fine-tuning: the model learns to write the confidence,
    loss on the two readout positions only) or ``value_head`` (regression of the label from the
    last hidden state). ``lora=False`` fine-tunes every weight. The optimiser follows the paper
    (AdamW, betas 0.9/0.5); warm-up is capped at a tenth of the run for short CPU runs.

    ``kind_weights`` resamples the label levels in every epoch: weight ``w`` for a kind puts
    ``floor(w)`` copies of each of its examples in the epoch plus a seeded draw of
    ``round(frac(w) * n)`` more (``0.5`` keeps half of them, ``2`` doubles them). Monte Carlo
    stores hold many more outcome labels than question and process ones; without weights the
    scorer mostly learns to judge finished answers. ``calibrate`` fits a Platt map on the dev
    split after training and stores it in the artifact.

    ``adversarial_augment`` adds, for that fraction of the training examples with an answer, a
    copy whose answer ends in a suffix aimed at the scorer (:mod:`guardrail.lab.adversarial`: a
    claimed confidence, a note to the grader, a forged turn; either direction) with the *same*
    label: the scorer learns that what the answer claims about itself is no evidence.

    ``adversarial_pairs`` gives, in every batch, that fraction of the examples with an answer a
    *twin* ending in a freshly drawn training suffix (same label), and adds
    ``consistency_weight`` times the mean squared difference between each twin's confidence and
    its original's (the original's held fixed): the scorer is taught directly that the suffix
    changes nothing, not only that the label stays. Twins cost extra forward rows per step.

    ``init_from`` starts from the weights of a trained scorer (a ``builtin:`` name or an artifact
    directory with the same method, base model and LoRA shape) instead of a fresh adapter: a
    short robustness or domain fine-tune of a scorer that already works.

    ``max_questions`` keeps a seeded random sample of that many questions of the label stores
    (before the dev split): the points of a learning curve over the number of labelled questions.

    ``mixed_weight`` multiplies the weight of the process and outcome examples of *mixed*
    questions (outcome labels both below and above 0.5: the generator answered them both right
    and wrong). Those are the only examples that teach the scorer to tell a right answer from a
    wrong one to the same question; on the others the question alone predicts the label.
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
    kind_weights: dict[str, float] = Field(default_factory=dict)
    calibrate: bool = True
    adversarial_augment: float = Field(default=0.0, ge=0.0, le=1.0)
    mixed_weight: float = Field(default=1.0, ge=0.0, le=100.0)
    max_questions: int | None = Field(default=None, ge=2)
    adversarial_pairs: float = Field(default=0.0, ge=0.0, le=1.0)
    consistency_weight: float = Field(default=1.0, ge=0.0, le=100.0)
    init_from: str | None = None

    @field_validator("kind_weights")
    @classmethod
    def _known_kinds(cls, weights: dict[str, float]) -> dict[str, float]:
        for kind, weight in weights.items():
            if kind not in LABEL_KINDS:
                raise ValueError(f"unknown label kind {kind!r}; valid: {', '.join(LABEL_KINDS)}")
            if not 0.0 <= weight <= 100.0:
                raise ValueError(f"weight of {kind!r} must be in [0, 100], got {weight}")
        return weights
