"""Confidence scorers: the protocol, the registry of backends, and the FineCE scorer.

Backends are registered explicitly in :data:`SCORER_BACKENDS`; :func:`create_scorer` builds one
by name and an unknown name is an error listing the valid ones. Importing this package does not
import torch: backends load lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guardrail.errors import GuardrailConfigError
from guardrail.scorers.base import Scorer, ScoringSession

__all__ = ["SCORER_BACKENDS", "Scorer", "ScoringSession", "create_scorer"]


def _finece(model: str, **options: Any) -> Scorer:
    from guardrail.scorers.finece import FineCEScorer

    return FineCEScorer.from_ref(model, **options)


SCORER_BACKENDS: dict[str, Callable[..., Scorer]] = {"finece": _finece}


def create_scorer(model: str, *, backend: str = "finece", **options: Any) -> Scorer:
    """Build a scorer: ``backend`` names the method, ``model`` the model reference it loads."""
    try:
        factory = SCORER_BACKENDS[backend]
    except KeyError:
        valid = ", ".join(sorted(SCORER_BACKENDS))
        raise GuardrailConfigError(f"unknown scorer backend {backend!r}; valid: {valid}") from None
    return factory(model, **options)
