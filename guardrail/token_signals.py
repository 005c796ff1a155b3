"""Confidence signals computed from a generator's own token log-probabilities.

No trained model: each maps the logprobs of an answer's tokens to a number in ``[0, 1]``.

* ``mean_logprob``: ``exp`` of the mean token log-probability (geometric-mean probability);
* ``min_window``: DeepConf-style lowest group confidence, ``exp`` of the smallest mean
  log-probability over sliding windows of ``window`` tokens (one window if the answer is
  shorter);
* ``mean_entropy``: ``exp(-H)`` for the mean truncated top-k entropy ``H`` (nats) of the tokens
  (:mod:`guardrail.entropy`);
* ``first_token``: the probability of the answer's first token.

They are the evaluation's logprob baselines (:mod:`guardrail.lab.evaluation.baselines`) and the
``logprob:`` scorers (:mod:`guardrail.scorers.logprob`). An answer with no tokens has no signal
(``None``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from guardrail.entropy import TokenLogprobs

__all__ = [
    "DEFAULT_WINDOW",
    "SIGNAL_NAMES",
    "SignalName",
    "first_token_probability",
    "mean_entropy_confidence",
    "mean_logprob_confidence",
    "min_window_confidence",
    "signal_confidence",
]

SignalName = Literal["mean_logprob", "min_window", "mean_entropy"]
SIGNAL_NAMES: tuple[SignalName, ...] = ("mean_logprob", "min_window", "mean_entropy")
"""The signals offered as scorers (``logprob:NAME``)."""

DEFAULT_WINDOW = 16
"""Tokens per sliding window of ``min_window``."""


def mean_logprob_confidence(logprobs: Sequence[float]) -> float | None:
    """``exp(mean(logprobs))``; ``None`` for no tokens."""
    if not logprobs:
        return None
    return min(math.exp(math.fsum(logprobs) / len(logprobs)), 1.0)


def min_window_confidence(logprobs: Sequence[float], window: int = DEFAULT_WINDOW) -> float | None:
    """``exp`` of the lowest mean logprob over windows of ``window`` consecutive tokens."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not logprobs:
        return None
    size = min(window, len(logprobs))
    running = math.fsum(logprobs[:size])
    lowest = running
    for end in range(size, len(logprobs)):
        running += logprobs[end] - logprobs[end - size]
        lowest = min(lowest, running)
    return math.exp(min(lowest / size, 0.0))


def mean_entropy_confidence(tokens: Sequence[TokenLogprobs]) -> float | None:
    """``exp(-mean truncated top-k entropy)`` of the tokens; ``None`` when none has logprobs."""
    known = [h for h in (token.entropy() for token in tokens) if h is not None]
    if not known:
        return None
    return math.exp(-math.fsum(known) / len(known))


def first_token_probability(logprobs: Sequence[float]) -> float | None:
    """Probability of the first token; ``None`` for no tokens."""
    return min(math.exp(logprobs[0]), 1.0) if logprobs else None


def signal_confidence(
    signal: SignalName, tokens: Sequence[TokenLogprobs], window: int = DEFAULT_WINDOW
) -> float | None:
    """The ``signal`` of the tokens that carry a logprob; ``None`` when none does."""
    logprobs = [t.logprob for t in tokens if t.logprob is not None]
    match signal:
        case "mean_logprob":
            return mean_logprob_confidence(logprobs)
        case "min_window":
            return min_window_confidence(logprobs, window)
        case "mean_entropy":
            return mean_entropy_confidence([t for t in tokens if t.logprob is not None])
        case _:
            raise ValueError(f"unknown signal {signal!r}; expected one of {SIGNAL_NAMES}")
