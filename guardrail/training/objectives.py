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

from guardrail.scorers.padding import forward_left_padded, truncate_answer
from guardrail.scorers.prompt import DEFAULT_INSTRUCTION, PromptSegments, TokenizedPrompt
from guardrail.scorers.readout import DigitReadout
from guardrail.training.config import TrainConfig
from guardrail.training.examples import TrainingExample
from guardrail.training.targets import soft_targets

if TYPE_CHECKING:
    import torch

__all__ = ["IFTObjective", "Objective", "ValueHeadObjective", "make_objective"]

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

    def loss(self, batch: Sequence[TrainingExample]) -> torch.Tensor:
        """Soft cross-entropy at the first-digit and tenths positions."""
        return self._loss(self._logits(batch), batch)

    def loss_and_predict(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, list[float]]:
        """Loss and readout from one forward pass."""
        logits = self._logits(batch)
        return self._loss(logits, batch), [float(v) for v in self.readout.confidence(logits)]

    def _loss(self, raw: torch.Tensor, batch: Sequence[TrainingExample]) -> torch.Tensor:
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
        return (first_loss + tenths_loss).mean()

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

    def loss(self, batch: Sequence[TrainingExample]) -> torch.Tensor:
        """Binary cross-entropy against the (soft) label."""
        return self._loss(self._logit(batch), batch)

    def loss_and_predict(
        self, batch: Sequence[TrainingExample]
    ) -> tuple[torch.Tensor, list[float]]:
        """Loss and ``sigmoid`` of the head from one forward pass."""
        import torch

        logit = self._logit(batch)
        return self._loss(logit, batch), [float(v) for v in torch.sigmoid(logit)]

    def _loss(self, logit: torch.Tensor, batch: Sequence[TrainingExample]) -> torch.Tensor:
        import torch

        labels = torch.tensor([e.label for e in batch], device=logit.device)
        return torch.nn.functional.binary_cross_entropy_with_logits(logit, labels)

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
