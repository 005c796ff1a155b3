"""The records an evaluation run keeps: its settings and everything measured on one answer.

Both the runner (:mod:`.runner`), which makes them, and the analysis (:mod:`.analysis`), which
reads them, import this module; it imports neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.ablation import BCIGrid
from guardrail.lab.evaluation.answers import GeneratedAnswer, GenerationSettings
from guardrail.lab.evaluation.downstream import DEFAULT_THRESHOLDS
from guardrail.lab.evaluation.positions import STRATEGY_NAMES, PositionTrace, StrategyTrace

__all__ = ["AnswerRecord", "EvalConfig", "Split"]

Split = Literal["dev", "test"]
"""Which half of the questions an answer belongs to."""


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """Settings of one evaluation run (defaults: FINECE.md conventions and the issue's)."""

    generation: GenerationSettings = field(default_factory=GenerationSettings)
    self_consistency: int = 4
    sample_temperature: float = 1.0
    p_true: bool = True
    verbalized: bool = True
    verbalized_max_new_tokens: int = 8
    window: int = 16
    strategies: tuple[str, ...] = STRATEGY_NAMES
    periodic_every: int = 32
    entropy_threshold: float = 1.0
    bci: BCIGrid = field(default_factory=BCIGrid)
    future_max_new_tokens: int = 48
    dev_fraction: float = 0.5
    n_bootstrap: int = 1000
    seed: int = 0
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS

    def __post_init__(self) -> None:
        problems = []
        if self.self_consistency < 0:
            problems.append(f"self_consistency must be >= 0, got {self.self_consistency}")
        if not 0.0 < self.dev_fraction < 1.0:
            problems.append(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")
        if self.n_bootstrap < 0:
            problems.append(f"n_bootstrap must be >= 0, got {self.n_bootstrap}")
        if self.window < 1 or self.periodic_every < 1:
            problems.append("window and periodic_every must be >= 1")
        unknown = [name for name in self.strategies if name not in STRATEGY_NAMES]
        if unknown or len(set(self.strategies)) != len(self.strategies):
            problems.append(
                f"strategies must be distinct names among {', '.join(STRATEGY_NAMES)}, "
                f"got {', '.join(self.strategies)}"
            )
        if self.entropy_threshold <= 0.0:
            problems.append(f"entropy_threshold must be > 0, got {self.entropy_threshold}")
        if self.generation.max_new_tokens < 1:
            problems.append("max_new_tokens must be >= 1")
        if problems:
            raise GuardrailConfigError("evaluation settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """Everything measured on one answer."""

    answer: GeneratedAnswer
    positions: PositionTrace
    strategies: Mapping[str, StrategyTrace]
    baselines: Mapping[str, float | None]
    split: Split
