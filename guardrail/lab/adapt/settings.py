"""The settings of one ``guardrail adapt`` run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["AdaptSettings"]


@dataclass(frozen=True, slots=True)
class AdaptSettings:
    """Everything that defines an adapt run (``guardrail adapt --help`` documents each)."""

    generator: str
    task: str
    out: Path
    data: str | None = None
    limit: int | None = None
    budget_minutes: float | None = None
    from_review: str | None = None
    base_scorer: str = "builtin:finece-smollm2"
    preset: str = "default"
    target_accuracy: float = 0.9
    seed: int = 0
    k: int = 6
    levels: int = 1
    max_clusters: int = 1
    temperature: float = 0.7
    max_new_tokens: int = 96
    agreement_k: int = 4
    finetune_steps: int = 40
    device: str = "auto"
    n_bootstrap: int = 1000
