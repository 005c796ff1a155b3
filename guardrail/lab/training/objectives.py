"""What is trained: the instruction-tuned readout (IFT) or a value head on the last hidden state.

Both share the prompt of :mod:`guardrail.scorers.prompt`, so a trained model is scored exactly
the way it was trained. IFT's loss is the cross-entropy against the soft targets of
:mod:`.targets` at the two readout positions only (the prompt's tokens carry no loss); the value
head regresses the label with a binary cross-entropy on ``sigmoid(w . h_last + b)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from guardrail.lab.training.config import TrainConfig
from guardrail.lab.training.examples import TrainingExample
from guardrail.lab.training.targets import soft_targets
from guardrail.scorers.padding import forward_left_padded, truncate_answer
from guardrail.scorers.prompt import DEFAULT_INSTRUCTION, PromptSegments, TokenizedPrompt
from guardrail.scorers.readout import DigitReadout

if TYPE_CHECKING:
    import torch

__all__ = [
    "IFTObjective",
    "Objective",
    "ValueHeadObjective",
    "init_from_artifact",
    "make_objective",
    "pair_loss",
]

VALUE_HEAD_FILE = "value_head.safetensors"


class Objective(Protocol):
    """A trainable scorer: its loss, predictions and (de)serialisation."""

    model: Any
    instruction: str

    def parameters(self) -> Iterator[Any]:
        """The trainable parameters."""
        ...

    def loss(self, batch: Sequence[TrainingExample]) -> torch.Tensor:
        """Mean loss over ``batch``."""
        ...

    def predict(self, batch: Sequence[TrainingExample]) -> list[float]:
        """Predicted confidences."""
        ...

    def rows_loss_and_confidence(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example loss and confidence, both differentiable, from one forward pass."""
        ...

    def loss_and_predict(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, list[float]]:
        """:meth:`loss` and :meth:`predict` from one forward pass (dev evaluation)."""
        ...

    def save(self, directory: Path) -> None:
        """Write trainable weights (adapter, head or full model) into ``directory``."""
        ...

    def load(self, directory: Path) -> None:
        """Restore trainable weights written by :meth:`save`."""
        ...


def pair_loss(
    objective: Objective,
    batch: Sequence[TrainingExample],
    twins: Sequence[tuple[int, TrainingExample]],
    consistency_weight: float,
) -> torch.Tensor:
    """Mean loss over ``batch`` and its twins plus the twins' consistency penalty.

    The penalty is ``consistency_weight`` times the mean of ``(c(twin) - c(original))**2``, with
    the original's confidence held fixed (no gradient): the twin is pulled to what the scorer
    says without the suffix, never the other way round. One forward pass over all rows.
    """
    rows = [*batch, *(twin for _, twin in twins)]
    losses, confidence = objective.rows_loss_and_confidence(rows)
    if not twins:
        return losses.mean()
    import torch

    originals = torch.tensor([index for index, _ in twins], device=confidence.device)
    gap = confidence[len(batch) :] - confidence[originals].detach()
    return losses.mean() + consistency_weight * (gap**2).mean()


def init_from_artifact(objective: Objective, config: TrainConfig) -> dict[str, Any]:
    """Load the weights of the trained scorer ``config.init_from`` into ``objective``.

    The artifact must have been trained with the same method and base model, and for LoRA
    with the same rank and target modules; anything else is a :class:`GuardrailConfigError`
    naming the difference. Returns what the new artifact records of its start: the
    reference, the directory, and the start's data hash and steps.
    """
    import json

    from guardrail.errors import GuardrailConfigError

    ref = config.init_from or ""
    directory = _artifact_dir(ref)
    try:
        meta = json.loads((directory / "finece.json").read_text(encoding="utf-8"))
        trained = meta["training"]
        if not isinstance(trained, dict):
            raise TypeError(f"'training' is {type(trained).__name__}, not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GuardrailConfigError(
            f"init_from {ref!r}: {directory / 'finece.json'} is not a readable scorer artifact "
            f"({type(exc).__name__}: {exc})"
        ) from None
    expected = {"method": config.method, "base_model": config.base_model, "lora": config.lora}
    if config.lora:
        expected |= {
            "lora_r": config.lora_r,
            "lora_alpha": config.lora_alpha,
            "target_modules": list(config.target_modules),
        }
    found = {key: trained.get(key) for key in expected}
    differ = [
        f"{k}: artifact {found[k]!r}, this run {v!r}" for k, v in expected.items() if found[k] != v
    ]
    if differ:
        raise GuardrailConfigError(
            f"init_from {ref!r} was trained differently; " + "; ".join(differ)
        )
    objective.load(directory)
    return {
        "ref": ref,
        "path": str(directory),
        "data_sha256": meta.get("data_sha256"),
        "steps": meta.get("steps"),
    }


def _artifact_dir(ref: str) -> Path:
    from guardrail.errors import GuardrailConfigError

    if ref.startswith("builtin:"):
        from guardrail.models.artifacts import builtin_artifact_path

        found = builtin_artifact_path(ref.removeprefix("builtin:"))
        if found is None:
            raise GuardrailConfigError(
                f"init_from {ref!r}: no built-in scorer artifact of that name"
            )
        return Path(found)
    path = Path(ref).expanduser()
    if not (path / "finece.json").is_file():
        raise GuardrailConfigError(
            f"init_from {ref!r}: {path} is not a scorer artifact (no finece.json)"
        )
    return path


def make_objective(config: TrainConfig) -> Objective:
    """Load a private copy of the base model, wrap it for LoRA or full tuning, pick the method."""
    from guardrail.models.loader import load_model_copy

    loaded = load_model_copy(config.base_model, device=config.device)
    model = loaded.model
    model.requires_grad_(False)
    if config.lora:
        import peft

        lora = peft.LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            target_modules=list(config.target_modules),
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
        )
        model = peft.get_peft_model(model, lora)
    else:
        model.requires_grad_(True)
    if config.method == "ift":
        return IFTObjective(model, loaded.tokenizer, config)
    return ValueHeadObjective(model, loaded.tokenizer, config)


class _Base:
    def __init__(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.instruction = DEFAULT_INSTRUCTION
        segments = PromptSegments.for_tokenizer(tokenizer, self.instruction)
        self.prompt = TokenizedPrompt.build(tokenizer, segments)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else tokenizer.eos_token_id)

    def _rows(self, batch: Sequence[TrainingExample], suffix: Sequence[int]) -> list[list[int]]:
        return [
            truncate_answer(
                self.prompt.question_ids(e.question),
                self.prompt.answer_ids(e.prefix),
                suffix,
                self.config.max_length,
            )
            for e in batch
        ]

    def rows_loss_and_confidence(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def loss(self, batch: Sequence[TrainingExample]) -> torch.Tensor:
        """Mean of :meth:`rows_loss_and_confidence`'s per-example loss."""
        return self.rows_loss_and_confidence(batch)[0].mean()

    def loss_and_predict(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, list[float]]:
        """Mean loss and the confidences, from one forward pass."""
        losses, confidence = self.rows_loss_and_confidence(batch)
        return losses.mean(), [float(v) for v in confidence]

    def _save_model(self, directory: Path) -> None:
        if self.config.lora:
            self.model.save_pretrained(directory)
        else:
            self.model.save_pretrained(directory)
            self.tokenizer.save_pretrained(directory)

    def _load_model(self, directory: Path) -> None:
        from safetensors.torch import load_file

        if self.config.lora:
            import peft

            weights = load_file(str(directory / "adapter_model.safetensors"))
            peft.set_peft_model_state_dict(self.model, weights)
        else:
            self.model.load_state_dict(
                load_file(str(directory / "model.safetensors")), strict=False
            )


class IFTObjective(_Base):
    """Instruction fine-tuning of the readout distributions."""

    def __init__(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        super().__init__(model, tokenizer, config)
        self.readout = DigitReadout.for_tokenizer(tokenizer, self.prompt.segments.readout)

    def parameters(self) -> Iterator[Any]:
        """LoRA (or all) parameters that require grad."""
        return (p for p in self.model.parameters() if p.requires_grad)

    def _logits(self, batch: Sequence[TrainingExample]) -> torch.Tensor:
        rows = self._rows(batch, self.prompt.suffix_ids())
        out = forward_left_padded(
            self.model, rows, pad_token_id=self.pad_token_id, keep=self.readout.logits_needed
        )
        return out.logits  # type: ignore[no-any-return]

    def rows_loss_and_confidence(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example cross-entropy and the expected-value readout, differentiable."""
        logits = self._logits(batch)
        return self._loss(logits, batch), self.readout.confidence(logits)

    def _loss(self, raw: torch.Tensor, batch: Sequence[TrainingExample]) -> torch.Tensor:
        """Per-example loss."""
        import torch

        logits = raw.float()
        first = torch.log_softmax(logits[:, -self.readout.logits_needed], dim=-1)
        tenths = torch.log_softmax(logits[:, -1], dim=-1)
        digits = torch.tensor(self.readout.digit_ids, device=logits.device)
        targets = [soft_targets(e.label) for e in batch]
        p_one = torch.tensor([t[0] for t in targets], device=logits.device)
        p_tenths = torch.tensor([t[1] for t in targets], device=logits.device)
        first_loss = -((1 - p_one) * first[:, digits[0]] + p_one * first[:, digits[1]])
        tenths_loss = -(p_tenths * tenths[:, digits]).sum(dim=-1)
        return first_loss + tenths_loss

    def predict(self, batch: Sequence[TrainingExample]) -> list[float]:
        """The expected-value readout, as the scorer computes it."""
        return [float(v) for v in self.readout.confidence(self._logits(batch))]

    def save(self, directory: Path) -> None:
        """Adapter (or full model)."""
        self._save_model(directory)

    def load(self, directory: Path) -> None:
        """Restore the adapter (or full model)."""
        self._load_model(directory)


class ValueHeadObjective(_Base):
    """Regression of the label from the decoder's last hidden state (the paper's ablation)."""

    def __init__(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        import torch

        super().__init__(model, tokenizer, config)
        hidden = model.config.hidden_size
        device = next(model.parameters()).device
        self.head = torch.nn.Linear(hidden, 1).to(device)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def parameters(self) -> Iterator[Any]:
        """Head parameters plus LoRA (or all) parameters."""
        yield from self.head.parameters()
        yield from (p for p in self.model.parameters() if p.requires_grad)

    def _logit(self, batch: Sequence[TrainingExample]) -> torch.Tensor:
        rows = self._rows(batch, self.prompt.tail_ids)
        out = forward_left_padded(self.model, rows, pad_token_id=self.pad_token_id, backbone=True)
        return self.head(out.last_hidden_state[:, -1].float()).squeeze(-1)  # type: ignore[no-any-return]

    def rows_loss_and_confidence(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example cross-entropy and ``sigmoid`` of the head, differentiable."""
        import torch

        logit = self._logit(batch)
        return self._loss(logit, batch), torch.sigmoid(logit)

    def _loss(self, logit: torch.Tensor, batch: Sequence[TrainingExample]) -> torch.Tensor:
        import torch

        labels = torch.tensor([e.label for e in batch], device=logit.device)
        return torch.nn.functional.binary_cross_entropy_with_logits(logit, labels, reduction="none")

    def predict(self, batch: Sequence[TrainingExample]) -> list[float]:
        """``sigmoid`` of the head's output."""
        import torch

        return [float(v) for v in torch.sigmoid(self._logit(batch))]

    def save(self, directory: Path) -> None:
        """Adapter (or full model) plus ``value_head.safetensors``."""
        from safetensors.torch import save_file

        self._save_model(directory)
        save_file(
            {k: v.contiguous() for k, v in self.head.state_dict().items()},
            str(directory / VALUE_HEAD_FILE),
        )

    def load(self, directory: Path) -> None:
        """Restore adapter and head."""
        from safetensors.torch import load_file

        self._load_model(directory)
        self.head.load_state_dict(load_file(str(directory / VALUE_HEAD_FILE)))
