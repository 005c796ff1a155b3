"""Backward Confidence Integration (BCI, FINECE.md): revise an estimate with later ones.

For a state ``s_j`` with raw confidence ``c_j`` and next states ``s_{j+1}^1 .. s_{j+1}^w``::

    Conf'_d(s_j) = c_j                                                  if d == 0 or no next state
    Conf'_d(s_j) = alpha * c_j + (1 - alpha) * mean_k Conf'_{d-1}(s_{j+1}^k)     otherwise

``d`` is the depth budget: how many future steps are folded in recursively; a state reached
with budget 0 counts with its raw confidence. The last state of a path has no next state, so
``Conf'(s_N) = c_N``; depth 0 or ``alpha == 1`` is the identity.

Observed path plus sampled futures (what :class:`guardrail.monitor.ConfidenceMonitor` uses with
``width > 0``): the next states of ``s_j`` are the *observed* next checkpoint ``s_{j+1}`` (itself
revised recursively with budget ``d - 1``) and ``w`` *sampled* continuations of ``s_j``, which
are leaves scored once (their own futures are not sampled). All ``w + 1`` paths weigh the same::

    Conf'_d(s_j) = alpha * c_j + (1 - alpha) * (Conf'_{d-1}(s_{j+1}) + sum_k f_{j,k}) / (w + 1)

The latest observed state has only its sampled futures; with ``w == 0`` this is the single-path
formula and with ``w == d == 0`` the identity. Results lie between the smallest and largest
input (convex combinations; clamped against rounding).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BCINode", "integrate", "integrate_paths", "integrate_tree"]


@dataclass(frozen=True, slots=True)
class BCINode:
    """A generation state: its raw confidence and its next states (observed or sampled)."""

    confidence: float
    futures: tuple[BCINode, ...] = ()


def integrate(confidences: Sequence[float], alpha: float, depth: int) -> list[float]:
    """BCI along one observed path: the revised value of every state, in order."""
    return integrate_paths(confidences, [()] * len(confidences), alpha, depth)


def integrate_paths(
    confidences: Sequence[float],
    futures: Sequence[Sequence[float]],
    alpha: float,
    depth: int,
) -> list[float]:
    """BCI along an observed path whose state ``j`` also has sampled futures ``futures[j]``.

    ``futures[j]`` are the raw confidences of continuations sampled from state ``j`` (leaves).
    Runs in O(depth * (len(confidences) + number of futures)).
    """
    _check_arguments(alpha, depth)
    if len(futures) != len(confidences):
        raise ValueError(
            f"futures must have one entry per state: {len(futures)} != {len(confidences)}"
        )
    raw = [_finite(value) for value in confidences]
    sampled = [[_finite(value) for value in step] for step in futures]
    if depth == 0 or alpha == 1.0:
        return raw
    last = len(raw) - 1
    revised = raw  # budget 0
    for _ in range(depth):
        revised = [
            _blend(raw[j], [revised[j + 1], *sampled[j]] if j < last else sampled[j], alpha)
            for j in range(len(raw))
        ]
    return revised


def integrate_tree(node: BCINode, alpha: float, depth: int) -> float:
    """BCI of the root of a tree of states whose children are its next states."""
    _check_arguments(alpha, depth)
    return _tree(node, alpha, depth)


def _tree(node: BCINode, alpha: float, depth: int) -> float:
    confidence = _finite(node.confidence)
    if depth == 0 or not node.futures or alpha == 1.0:
        return confidence
    return _blend(confidence, [_tree(child, alpha, depth - 1) for child in node.futures], alpha)


def _blend(confidence: float, children: list[float], alpha: float) -> float:
    """``alpha * confidence + (1 - alpha) * mean(children)``, kept inside its inputs' range."""
    if not children:
        return confidence
    low, high = min(children), max(children)
    mean = min(max(math.fsum(children) / len(children), low), high)
    value = alpha * confidence + (1.0 - alpha) * mean
    return min(max(value, min(confidence, mean)), max(confidence, mean))


def _check_arguments(alpha: float, depth: int) -> None:
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")


def _finite(value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"confidence must be a finite number, got {value}")
    return value
