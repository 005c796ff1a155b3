"""Soft targets that make the expected-value readout equal the Monte Carlo label.

The readout (:mod:`guardrail.scorers.readout`) computes ``p(1) + p(0) * E[tenths] / 10`` from
two next-token distributions. For a label ``c`` in [0, 1] we train those two distributions
towards targets whose readout is exactly ``c``: below 0.9 the first digit is ``0`` and the
tenths mass is split between the two neighbouring tenths (linear interpolation); above 0.9 the
tenths digit is ``9`` and the first-digit mass is split between ``0`` (meaning 0.9) and ``1``.
Hard one-decimal targets (the paper's rounding to tenths) are the special case of labels that
are already multiples of 0.1.
"""

from __future__ import annotations

import math

__all__ = ["expected_readout", "soft_targets"]


def soft_targets(label: float) -> tuple[float, tuple[float, ...]]:
    """``(p_one, tenths)``: target probability of first digit ``1`` and of each tenths digit."""
    if not (math.isfinite(label) and 0.0 <= label <= 1.0):
        raise ValueError(f"label must be a number in [0, 1], got {label!r}")
    tenths = [0.0] * 10
    if label > 0.9:
        tenths[9] = 1.0
        return (label - 0.9) / 0.1, tuple(tenths)
    scaled = label * 10.0
    low = min(math.floor(scaled), 9)
    weight_high = scaled - low
    tenths[low] = 1.0 - weight_high
    if weight_high > 0.0:
        tenths[low + 1] += weight_high
    return 0.0, tuple(tenths)


def expected_readout(p_one: float, tenths: tuple[float, ...]) -> float:
    """The readout's value for given first-digit and tenths distributions."""
    below_one = sum(p * digit / 10.0 for digit, p in enumerate(tenths)) / sum(tenths)
    return p_one + (1.0 - p_one) * below_one
