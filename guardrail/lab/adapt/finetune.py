"""The warm-start fine-tune candidate: the shipped scorer trained a few steps on the fit labels.

Only the fit questions' labels are written to ``DIR/work/fit-labels.jsonl`` and
:func:`guardrail.lab.training.train` starts from the shipped scorer's weights (``init_from``)
into ``DIR/finetuned``; the fine-tune then scores every row (``finetuned``,
``finetuned_question``), so that it and its hybrid are measured on the same answers as the
other candidates. :func:`finetune_seconds` is the estimate the budget check uses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from guardrail.lab.adapt.rows import Row
from guardrail.lab.adapt.settings import AdaptSettings
from guardrail.lab.adapt.split import Split
from guardrail.lab.data import read_records

__all__ = ["FINETUNE_DIR", "SECONDS_PER_ROW", "SECONDS_PER_STEP", "finetune", "finetune_seconds"]

FINETUNE_DIR = "finetuned"
SECONDS_PER_STEP = 8.0
"""A training step of batch 8 on the embedded model, one torch thread (2-core CPU, loaded)."""
SECONDS_PER_ROW = 0.15
"""Scoring one text with the fine-tune on the same CPU."""


def finetune_seconds(steps: int, rows: int) -> float:
    """Estimated seconds for ``steps`` training steps and scoring ``rows`` texts."""
    return steps * SECONDS_PER_STEP + rows * SECONDS_PER_ROW


def write_fit_labels(labels: Path, split: Split, out: Path) -> Path:
    """The label store restricted to the fit questions (its meta line kept)."""
    fit = set(split.fit)
    records = read_records(labels)
    ids = {
        r["question_id"] for r in records if r.get("type") == "label" and r.get("question") in fit
    }
    kept = [r for r in records if r.get("type") == "meta" or r.get("question_id") in ids]
    out.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    return out


def finetune(
    settings: AdaptSettings, split: Split, rows: Sequence[Row], labels: Path
) -> tuple[list[Row], Path]:
    """Train the fine-tune on the fit labels and add its estimates to every row."""
    from guardrail.lab.training.config import TrainConfig
    from guardrail.lab.training.trainer import train
    from guardrail.scorers import create_scorer

    out = settings.out / FINETUNE_DIR
    data = write_fit_labels(labels, split, settings.out / "work" / "fit-labels.jsonl")
    steps = settings.finetune_steps
    config = TrainConfig(
        data=(str(data),),
        out=str(out),
        init_from=settings.base_scorer,
        max_steps=steps,
        warmup_steps=max(1, steps // 5),
        seed=settings.seed,
    )
    train(config, log=lambda text: print(f"[adapt] fine-tune: {text}", file=sys.stderr, flush=True))
    scorer = create_scorer(str(out), device=settings.device)
    pairs = sorted({(r.question, "") for r in rows} | {(r.question, r.answer) for r in rows})
    values = dict(zip(pairs, scorer.score_batch(pairs), strict=True))
    return [
        row.with_features(
            {
                "finetuned": values[(row.question, row.answer)],
                "finetuned_question": values[(row.question, "")],
            }
        )
        for row in rows
    ], out
