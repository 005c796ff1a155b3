"""Scorers the LiteLLM proxy test loads by ``module:attribute`` (``scorer:`` in its config)."""

from __future__ import annotations

from guardrail.testing.scorers import ScriptedScorer


def keyword_scorer() -> ScriptedScorer:
    """Low confidence once the question or the answer so far says "guess", else high."""
    return ScriptedScorer(
        lambda question, answer: 0.1 if "guess" in f"{question} {answer}" else 0.9
    )
