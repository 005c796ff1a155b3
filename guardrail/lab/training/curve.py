"""The learning curve of a run, read back from ``learning_curve.jsonl`` and drawn as a PNG.

The trainer appends one record per step (``step``, ``loss``, ``lr``), ``dev`` metrics every
``eval_every`` steps and a ``final_dev`` record. :func:`plot_learning_curve` draws the
per-step loss, its moving average and the dev loss (matplotlib, ``train`` extra, no pyplot).
A resumed run may repeat steps after its last checkpoint; the last record of a step wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError

__all__ = ["plot_learning_curve", "read_learning_curve"]


def read_learning_curve(
    path: str | Path,
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """``(train, dev)`` lists of ``(step, loss)``, ordered by step; errors name the line."""
    train: dict[int, float] = {}
    dev: dict[int, float] = {}
    source = Path(path)
    for number, line in enumerate(source.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step = int(record["step"])
            if "loss" in record:
                train[step] = float(record["loss"])
            for key in ("dev", "final_dev"):
                if record.get(key):
                    dev[step] = float(record[key]["loss"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise GuardrailConfigError(f"{source}:{number}: malformed curve record: {exc}") from exc
    return sorted(train.items()), sorted(dev.items())


def plot_learning_curve(path: str | Path, png: str | Path, *, window: int = 25) -> Path:
    """Draw the curve in ``path`` into ``png`` and return the PNG's path."""
    from matplotlib.figure import Figure

    train, dev = read_learning_curve(path)
    if not train:
        raise GuardrailConfigError(f"{path}: no training steps to plot")
    steps = [s for s, _ in train]
    losses = [v for _, v in train]
    figure: Any = Figure(figsize=(6.4, 4.0))
    axes = figure.add_subplot()
    axes.plot(steps, losses, color="0.75", linewidth=0.8, label="train loss (per step)")
    if len(losses) >= window:
        smooth = [sum(losses[i - window : i]) / window for i in range(window, len(losses) + 1)]
        axes.plot(steps[window - 1 :], smooth, color="C0", label=f"train loss ({window}-step mean)")
    if dev:
        axes.plot(*zip(*dev, strict=True), "o-", color="C3", label="dev loss")
    axes.set_xlabel("step")
    axes.set_ylabel("soft cross-entropy / BCE")
    axes.legend(loc="upper right")
    figure.tight_layout()
    target = Path(png)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100)
    return target
