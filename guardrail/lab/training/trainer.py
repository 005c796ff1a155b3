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
from guardrail.lab.training.config import TrainConfig
from guardrail.lab.training.examples import (
    TrainingExample,
    adversarial_twins,
    augment_adversarial,
    data_hash,
    label_stats,
    load_examples,
    sample_questions,
    split_by_question,
)
from guardrail.lab.training.objectives import (
    Objective,
    init_from_artifact,
    make_objective,
    pair_loss,
)
from guardrail.scorers.artifact import write_metadata
from guardrail.scorers.card import card_from_data

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
    if config.max_questions is not None:
        examples = sample_questions(examples, config.max_questions, config.seed)
    train_set, dev_set = split_by_question(examples, config.dev_fraction, config.seed)
    if not train_set:
        raise GuardrailConfigError("no training examples after the dev split")
    if config.adversarial_augment:
        train_set = augment_adversarial(train_set, config.adversarial_augment, config.seed)
    torch.manual_seed(config.seed)
    objective = make_objective(config)
    start = init_from_artifact(objective, config) if config.init_from else None
    if start is not None:
        say(f"starting from the weights of {start['path']}")
    steps_per_epoch = math.ceil(_epoch_size(train_set, config) / config.batch_size)
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
        loss = _step_loss(objective, batch, config, step)
        loss.backward()
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
            record["dev"] = _evaluate(objective, dev_set, config.batch_size)[0]
        _append(curve, record)
        rate = (step - resumed_from) / (time.perf_counter() - started)
        eta = (total - step) / rate if rate else float("inf")
        say(f"step {step}/{total} loss {loss_value:.4f} ({rate:.2f} steps/s, ETA {eta:.0f} s)")
        if step % config.checkpoint_every == 0 or step == total:
            state.save(objective, optimizer, scheduler, step, order)
    dev_metrics, predictions = (
        _evaluate(objective, dev_set, config.batch_size, keep=True) if dev_set else ({}, [])
    )
    _append(curve, {"step": step, "final_dev": dev_metrics})
    calibration = _calibration(config, dev_set, predictions, say)
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
            "card": card_from_data(list(config.data)),
            **({"init_from": start} if start is not None else {}),
            **calibration,
        },
    )
    _plot(curve, out / "learning_curve.png", say)
    say(f"artifact written to {out} (dev: {json.dumps(dev_metrics)})")
    return TrainResult(out, step, resumed_from, dev_metrics, time.perf_counter() - started)


def _step_loss(
    objective: Objective, batch: Sequence[TrainingExample], config: TrainConfig, step: int
) -> Any:
    """The batch's loss; with ``adversarial_pairs``, over the batch and its suffixed twins."""
    if not config.adversarial_pairs:
        return objective.loss(batch)
    rng = random.Random(f"twins:{config.seed}:{step}")  # per step: a resumed run draws the same
    twins = adversarial_twins(batch, config.adversarial_pairs, rng)
    return pair_loss(objective, batch, twins, config.consistency_weight)


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


def _epoch_size(examples: Sequence[TrainingExample], config: TrainConfig) -> int:
    """Examples per epoch after the weights (fixed, so that steps per epoch are)."""
    return sum(
        _copies(weight, len(indices)) for weight, indices in _weighted_buckets(examples, config)
    )


def _copies(weight: float, n: int) -> int:
    return math.floor(weight) * n + round((weight - math.floor(weight)) * n)


def mixed_questions(examples: Sequence[TrainingExample]) -> set[str]:
    """Ids of the questions whose outcome labels lie on both sides of 0.5."""
    low: set[str] = set()
    high: set[str] = set()
    for example in examples:
        if example.kind == "outcome":
            (high if example.label >= 0.5 else low).add(example.question_id)
    return low & high


def _weighted_buckets(
    examples: Sequence[TrainingExample], config: TrainConfig
) -> list[tuple[float, list[int]]]:
    """Example indices grouped by weight: ``kind_weights`` times ``mixed_weight`` if it applies."""
    mixed = mixed_questions(examples) if config.mixed_weight != 1.0 else set()
    buckets: dict[tuple[str, bool], list[int]] = {}
    for index, example in enumerate(examples):
        is_mixed = example.kind != "question" and example.question_id in mixed
        buckets.setdefault((example.kind, is_mixed), []).append(index)
    return [
        (
            config.kind_weights.get(kind, 1.0) * (config.mixed_weight if is_mixed else 1.0),
            buckets[(kind, is_mixed)],
        )
        for kind, is_mixed in sorted(buckets)
    ]


def _epoch_pool(examples: Sequence[TrainingExample], config: TrainConfig, epoch: int) -> list[int]:
    """Indices of this epoch's examples, each bucket resampled by its weight (seeded)."""
    if not config.kind_weights and config.mixed_weight == 1.0:
        return list(range(len(examples)))
    rng = random.Random(config.seed * 7_919 + epoch + 1)
    pool: list[int] = []
    for weight, indices in _weighted_buckets(examples, config):
        pool.extend(indices * math.floor(weight))
        extra = _copies(weight, len(indices)) - math.floor(weight) * len(indices)
        pool.extend(sorted(rng.sample(indices, extra)))
    return pool


def _epoch_order(examples: Sequence[TrainingExample], config: TrainConfig, epoch: int) -> list[int]:
    """Shuffled, then grouped into length-sorted chunks so batches pad little."""
    order = _epoch_pool(examples, config, epoch)
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
    objective: Objective, dev: Sequence[TrainingExample], batch_size: int, *, keep: bool = False
) -> tuple[dict[str, float], list[float]]:
    """Mean loss, MAE and Brier against labels on the dev split (and the predictions if kept).

    Batches are formed in order of text length, so that a batch pads little (a dev split that
    mixes short facts with long worked answers otherwise pads most rows to the longest); the
    predictions come back in the order of ``dev``.
    """
    import torch

    objective.model.eval()
    order = sorted(range(len(dev)), key=lambda i: len(dev[i].question) + len(dev[i].prefix))
    losses, errors, squares = [], [], []
    kept: list[float] = [0.0] * len(dev)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = [dev[i] for i in indices]
            loss, predictions = objective.loss_and_predict(batch)
            losses.append(float(loss.detach()) * len(batch))
            for index, example, value in zip(indices, batch, predictions, strict=True):
                errors.append(abs(value - example.label))
                squares.append((value - example.label) ** 2)
                kept[index] = value
    n = len(dev)
    metrics = {"loss": sum(losses) / n, "mae": sum(errors) / n, "brier": sum(squares) / n}
    return metrics, kept if keep else []


def _calibration(
    config: TrainConfig,
    dev: Sequence[TrainingExample],
    predictions: Sequence[float],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Fit the artifact's Platt map on the dev predictions (metadata entries to store)."""
    if not config.calibrate:
        return {}
    from guardrail.calibration import fit_platt_soft

    labels = [e.label for e in dev]
    try:
        platt = fit_platt_soft(predictions, labels)
    except GuardrailConfigError as exc:
        say(f"no calibration map: {exc}")
        return {"calibration": None, "calibration_skipped": str(exc)}
    fit = {
        "examples": len(dev),
        "questions": len({e.question_id for e in dev}),
        "dev_brier_raw": _brier(predictions, labels),
        "dev_brier_calibrated": _brier(platt.apply_list(predictions), labels),
    }
    say(f"calibration map {platt.to_dict()} fitted on the dev split: {json.dumps(fit)}")
    return {
        "calibration": platt.to_dict(),
        "calibration_fit": fit,
        **_stage_calibration(dev, predictions, say),
    }


def _stage_calibration(
    dev: Sequence[TrainingExample], predictions: Sequence[float], say: Callable[[str], None]
) -> dict[str, Any]:
    """One Platt map per label kind (question, process, outcome) on the dev split.

    Monte Carlo stores are mostly outcome labels, so a single map is fitted for finished
    answers and shifts the early estimates; the scorer applies the map of the estimate's stage
    (:class:`guardrail.calibration.StagedCalibration`). A kind with too few dev examples (or all
    targets equal) keeps the pooled map.
    """
    from guardrail.calibration import fit_platt_soft

    maps: dict[str, Any] = {}
    fits: dict[str, Any] = {}
    for kind in ("question", "process", "outcome"):
        rows = [(p, e.label) for p, e in zip(predictions, dev, strict=True) if e.kind == kind]
        if len(rows) < _MIN_STAGE_EXAMPLES:
            fits[kind] = f"pooled map: {len(rows)} dev examples (< {_MIN_STAGE_EXAMPLES})"
            continue
        scores, labels = [r[0] for r in rows], [r[1] for r in rows]
        try:
            platt = fit_platt_soft(scores, labels)
        except GuardrailConfigError as exc:
            fits[kind] = f"pooled map: {exc}"
            continue
        maps[kind] = platt.to_dict()
        fits[kind] = {
            "examples": len(rows),
            "dev_brier_raw": _brier(scores, labels),
            "dev_brier_calibrated": _brier(platt.apply_list(scores), labels),
        }
    say(f"stage calibration maps {json.dumps(maps)}: {json.dumps(fits)}")
    return {"calibration_by_stage": maps, "calibration_by_stage_fit": fits}


_MIN_STAGE_EXAMPLES = 20


def _brier(values: Sequence[float], labels: Sequence[float]) -> float:
    return sum((v - y) ** 2 for v, y in zip(values, labels, strict=True)) / len(labels)


def _plot(curve: Path, png: Path, say: Callable[[str], None]) -> None:
    try:
        from guardrail.lab.training.curve import plot_learning_curve

        plot_learning_curve(curve, png)
    except ImportError:
        say(
            "learning_curve.png not drawn: matplotlib is missing "
            "(pip install 'finece-guardrail[lab]')"
        )


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

    def _same_run(self, stored: object) -> bool:
        """Same settings; a setting newer than the checkpoint counts only if it is not default."""
        if not isinstance(stored, dict):
            return False
        fields = TrainConfig.model_fields
        current = {
            key: value
            for key, value in self.config.items()
            if key in stored or key not in fields or value != fields[key].default
        }
        return stored == current

    def restore(
        self, objective: Objective, optimizer: Any, scheduler: Any
    ) -> tuple[int, list[int]]:
        import torch

        path = self.directory / "state.pt"
        if not path.is_file():
            return 0, []
        try:  # weights_only: a checkpoint from an untrusted --out cannot run code on load
            state = torch.load(path, weights_only=True)
        except Exception as exc:  # unpickling refusals come as several exception types
            raise GuardrailConfigError(
                f"{path} cannot be loaded safely (weights only): {type(exc).__name__}; "
                "it was written by another version or tampered with. Use another --out "
                "directory or delete the checkpoint"
            ) from None
        if not isinstance(state, dict) or not self._same_run(state.get("config")):
            raise GuardrailConfigError(
                f"{self.directory} holds a run with different settings; "
                "use another --out directory or delete the checkpoint"
            )
        objective.load(self.directory)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        return int(state["step"]), list(state["order"])
