"""The training loop: resumable, seeded, LoRA by default, on CPU or GPU.

Run state (adapter or head weights, optimiser, scheduler, step, the epoch's example order and
RNG states) is checkpointed every ``checkpoint_every`` steps into ``OUT/checkpoint`` with an
atomic rename, so a killed run restarted with the same command continues from the last
checkpoint. The finished artifact is written into ``OUT`` (see :mod:`.artifact`).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError
from guardrail.training.artifact import write_metadata
from guardrail.training.config import TrainConfig
from guardrail.training.examples import (
    TrainingExample,
    data_hash,
    label_stats,
    load_examples,
    split_by_question,
)
from guardrail.training.objectives import Objective, make_objective

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True, slots=True)
class TrainResult:
    """Where the artifact went and how the run ended."""

    out: Path
    steps: int
    resumed_from: int
    dev_metrics: dict[str, float]
    seconds: float


def train(config: TrainConfig, *, log: Callable[[str], None] | None = None) -> TrainResult:
    """Train a scorer from label stores; resume if ``OUT/checkpoint`` holds a matching run."""
    import torch

    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    examples = load_examples(config.data)
    train_set, dev_set = split_by_question(examples, config.dev_fraction, config.seed)
    if not train_set:
        raise GuardrailConfigError("no training examples after the dev split")
    torch.manual_seed(config.seed)
    objective = make_objective(config)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total = config.max_steps or max(1, round(steps_per_epoch * config.epochs))
    optimizer, scheduler = _optimiser(config, objective, total)
    state = _Checkpoint(out / "checkpoint", config)
    step, order = state.restore(objective, optimizer, scheduler)
    resumed_from = step
    if step:
        say(f"resuming from step {step}/{total}")
    started = time.perf_counter()
    say(
        f"training {config.method} on {len(train_set)} examples ({len(dev_set)} dev), {total} steps"
    )
    curve = out / "learning_curve.jsonl"
    while step < total:
        epoch, position = divmod(step, steps_per_epoch)
        if position == 0 or not order:
            order = _epoch_order(train_set, config, epoch)
        batch = [train_set[i] for i in order[position * config.batch_size :][: config.batch_size]]
        objective.model.train()
        loss = objective.loss(batch)
        loss.backward()  # type: ignore[no-untyped-call]
        loss_value = float(loss.detach())
        torch.nn.utils.clip_grad_norm_(objective.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        record: dict[str, Any] = {
            "step": step,
            "loss": loss_value,
            "lr": scheduler.get_last_lr()[0],
        }
        if config.eval_every and step % config.eval_every == 0 and dev_set:
            record["dev"] = _evaluate(objective, dev_set, config.batch_size)
        _append(curve, record)
        rate = (step - resumed_from) / (time.perf_counter() - started)
        eta = (total - step) / rate if rate else float("inf")
        say(f"step {step}/{total} loss {loss_value:.4f} ({rate:.2f} steps/s, ETA {eta:.0f} s)")
        if step % config.checkpoint_every == 0 or step == total:
            state.save(objective, optimizer, scheduler, step, order)
    dev_metrics = _evaluate(objective, dev_set, config.batch_size) if dev_set else {}
    _append(curve, {"step": step, "final_dev": dev_metrics})
    objective.save(out)
    write_metadata(
        out,
        {
            "kind": config.method,
            "base_model": config.base_model,
            "instruction": objective.instruction,
            "data_sha256": data_hash(config.data),
            "label_stats": {"train": label_stats(train_set), "dev": label_stats(dev_set)},
            "training": config.model_dump(mode="json"),
            "dev_metrics": dev_metrics,
            "steps": step,
        },
    )
    say(f"artifact written to {out} (dev: {json.dumps(dev_metrics)})")
    return TrainResult(out, step, resumed_from, dev_metrics, time.perf_counter() - started)


def _optimiser(config: TrainConfig, objective: Objective, total: int) -> tuple[Any, Any]:
    import torch

    optimizer = torch.optim.AdamW(
        objective.parameters(),
        lr=config.learning_rate,
        betas=(config.beta1, config.beta2),
        weight_decay=config.weight_decay,
    )
    warmup = min(config.warmup_steps, max(1, total // 10))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def _epoch_order(examples: Sequence[TrainingExample], config: TrainConfig, epoch: int) -> list[int]:
    """Shuffled, then grouped into length-sorted chunks so batches pad little."""
    order = list(range(len(examples)))
    rng = random.Random(config.seed * 1_000_003 + epoch)
    rng.shuffle(order)
    chunk = config.batch_size * 16
    grouped: list[int] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part.sort(key=lambda i: len(examples[i].question) + len(examples[i].prefix))
        grouped.extend(part)
    batches = [
        grouped[i : i + config.batch_size] for i in range(0, len(grouped), config.batch_size)
    ]
    rng.shuffle(batches)
    return [i for batch in batches for i in batch]


def _evaluate(
    objective: Objective, dev: Sequence[TrainingExample], batch_size: int
) -> dict[str, float]:
    """Mean loss, MAE and Brier of predictions against labels on the dev split."""
    import torch

    objective.model.eval()
    losses, errors, squares = [], [], []
    with torch.no_grad():
        for start in range(0, len(dev), batch_size):
            batch = list(dev[start : start + batch_size])
            losses.append(float(objective.loss(batch).detach()) * len(batch))
            predictions = objective.predict(batch)
            for example, value in zip(batch, predictions, strict=True):
                errors.append(abs(value - example.label))
                squares.append((value - example.label) ** 2)
    n = len(dev)
    return {"loss": sum(losses) / n, "mae": sum(errors) / n, "brier": sum(squares) / n}


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


class _Checkpoint:
    """Atomic save/restore of the whole run state."""

    def __init__(self, directory: Path, config: TrainConfig) -> None:
        self.directory = directory
        self.config = config.model_dump(mode="json")

    def save(
        self, objective: Objective, optimizer: Any, scheduler: Any, step: int, order: list[int]
    ) -> None:
        import torch

        tmp = self.directory.with_name(self.directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        objective.save(tmp)
        torch.save(
            {
                "config": self.config,
                "step": step,
                "order": order,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
            },
            tmp / "state.pt",
        )
        old = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            self.directory.rename(old)
        tmp.rename(self.directory)
        shutil.rmtree(old, ignore_errors=True)

    def restore(
        self, objective: Objective, optimizer: Any, scheduler: Any
    ) -> tuple[int, list[int]]:
        import torch

        path = self.directory / "state.pt"
        if not path.is_file():
            return 0, []
        state = torch.load(path, weights_only=False)
        if state["config"] != self.config:
            raise GuardrailConfigError(
                f"{self.directory} holds a run with different settings; "
                "use another --out directory or delete the checkpoint"
            )
        objective.load(self.directory)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        return int(state["step"]), list(state["order"])
