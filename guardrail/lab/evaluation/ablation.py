"""Backward Confidence Integration ablation over ``alpha``, ``depth`` and ``width``.

BCI revises each estimate along an answer with the later ones (:mod:`guardrail.bci`). Over the
paragraph-end positions of every answer (question, paragraph ends, outcome) the final revisions
equal what :class:`~guardrail.monitor.ConfidenceMonitor` ends with, so the grid is computed
offline from one scoring pass: with ``width == 0`` from the observed estimates alone; with
``width > 0`` also from ``width`` sampled continuations of every state but the outcome (sampled
once per width and reused for every ``alpha`` and ``depth``). Widths above 0 need a future
sampler; without one they are reported as skipped, with the reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guardrail.bci import integrate_paths
from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.metrics import auroc, brier, ece, undefined_reason
from guardrail.lab.evaluation.positions import PositionTrace, position_samples
from guardrail.monitor import FutureSampler
from guardrail.scorers.base import Scorer

__all__ = ["ABLATION_POSITIONS", "BCIGrid", "bci_ablation", "sample_futures"]

ABLATION_POSITIONS: tuple[str, ...] = ("question", "p1", "pz1", "process", "outcome")

Futures = list[tuple[float, ...]]
"""Per state of one answer's chain: the scores of its sampled continuations."""


@dataclass(frozen=True, slots=True)
class BCIGrid:
    """The ablation grid (FINECE.md: depth 0 -> 2 and width 0 -> 4 were studied)."""

    alphas: tuple[float, ...] = (0.3, 0.5, 0.7)
    depths: tuple[int, ...] = (0, 1, 2)
    widths: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        problems = [f"alpha {a} is outside [0, 1]" for a in self.alphas if not 0.0 <= a <= 1.0]
        problems += [f"depth {d} is negative" for d in self.depths if d < 0]
        problems += [f"width {w} is negative" for w in self.widths if w < 0]
        if not (self.alphas and self.depths and self.widths):
            problems.append("alphas, depths and widths each need at least one value")
        if problems:
            raise GuardrailConfigError("BCI grid: " + "; ".join(problems))


def sample_futures(
    scorer: Scorer,
    question: str,
    prefixes: Sequence[str],
    sampler: FutureSampler,
    width: int,
) -> Futures:
    """Per state of one answer's chain, the scores of ``width`` sampled continuations.

    ``prefixes`` are the answer texts of every state but the outcome (``""`` for the question);
    the outcome, which has no future, gets ``()`` at the end.
    """
    futures: Futures = []
    for prefix in prefixes:
        continuations = list(sampler(question, prefix, width))
        scores = scorer.score_batch([(question, prefix + c) for c in continuations])
        futures.append(tuple(float(s) for s in scores))
    futures.append(())
    return futures


def _position_metrics(traces: Sequence[PositionTrace], correct: Sequence[bool]) -> dict[str, Any]:
    samples = position_samples(traces, correct)
    result: dict[str, Any] = {}
    for position in ABLATION_POSITIONS:
        conf, labels = samples[position]
        undefined = {
            name: reason
            for name in ("ece_15", "auroc", "brier")
            if (reason := undefined_reason(name, conf, labels)) is not None
        }
        result[position] = {
            "n": len(conf),
            "ece_15": ece(conf, labels),
            "auroc": auroc(conf, labels),
            "brier": brier(conf, labels),
            "undefined": undefined,
        }
    return result


def bci_ablation(
    traces: Sequence[PositionTrace],
    correct: Sequence[bool],
    grid: BCIGrid,
    futures: Mapping[int, Sequence[Futures]] | None = None,
) -> list[dict[str, Any]]:
    """One row per ``(width, alpha, depth)``: metrics of the revised estimates per position.

    ``futures[width][i]`` are answer ``i``'s sampled future scores for that width; a width above
    0 without them gives one ``{"width", "status": "skipped", "reason"}`` row.
    """
    futures = futures or {}
    rows: list[dict[str, Any]] = []
    for width in grid.widths:
        if width > 0 and width not in futures:
            rows.append(
                {
                    "width": width,
                    "status": "skipped",
                    "reason": "width > 0 averages sampled future paths; no future sampler given",
                }
            )
            continue
        per_answer = futures.get(width) or [[()] * len(t.chain) for t in traces]
        for alpha in grid.alphas:
            for depth in grid.depths:
                revised = [
                    trace.with_chain(integrate_paths(trace.chain, paths, alpha, depth))
                    for trace, paths in zip(traces, per_answer, strict=True)
                ]
                rows.append(
                    {
                        "width": width,
                        "alpha": alpha,
                        "depth": depth,
                        "status": "ok",
                        "positions": _position_metrics(revised, correct),
                    }
                )
    return rows
