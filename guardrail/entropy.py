"""Next-token entropy from a generator's top-logprobs (OpenAI shape).

A provider returns, per generated token, the log-probabilities of only its ``k`` most likely
tokens, so the full next-token distribution is unknown. The entropy here is that of the
*truncated* distribution: the top-``k`` probabilities ``p_i = exp(logprob_i)`` plus one "other"
bucket holding the leftover mass ``1 - sum(p_i)``::

    H = -sum_i p_i ln p_i - r ln r,    r = max(0, 1 - sum_i p_i)

When rounding makes ``sum(p_i)`` exceed 1, the ``p_i`` are renormalised to sum to 1 and ``r`` is
0. Lumping the tail into one bucket can only lower entropy, so ``H`` is a lower bound of the
true entropy that tightens as ``k`` grows (with the top-20 that providers allow it is close).
Values are in nats. ``-inf`` logprobs count as probability 0 and positive ones (rounding) as 1.

Accepted shapes (dicts or attribute objects such as OpenAI's or litellm's pydantic models):

* a list of entries ``{"token": "...", "logprob": -0.1, "top_logprobs": [{"token": ...,
  "logprob": ...}, ...]}``; ``top_logprobs`` may also be a ``{token: logprob}`` mapping or a
  sequence of ``(token, logprob)`` pairs (:class:`guardrail.generation.TokenStep`);
* the ``{"content": [...]}`` wrapper (``choice.logprobs``), or one bare entry.

If the sampled token is missing from its ``top_logprobs`` (sampling at a high temperature), its
own probability is added as one more known bucket; with no ``top_logprobs`` at all, the sampled
token alone is the known mass.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["TokenLogprobs", "logprobs_entropy", "parse_logprobs", "top_k_entropy"]


@dataclass(frozen=True, slots=True)
class TokenLogprobs:
    """One generated token: its text, its logprob and its top alternatives ``(token, logprob)``."""

    token: str
    logprob: float | None
    top: tuple[tuple[str, float], ...] = ()

    def entropy(self) -> float | None:
        """Truncated top-k entropy (nats) of this position, ``None`` with no logprob at all."""
        logprobs = [logprob for _, logprob in self.top]
        if self.logprob is not None and all(token != self.token for token, _ in self.top):
            logprobs.append(self.logprob)
        return top_k_entropy(logprobs) if logprobs else None


def top_k_entropy(logprobs: Iterable[float]) -> float:
    """Entropy (nats) of top-k probabilities plus one bucket for the leftover mass."""
    probs: list[float] = []
    for logprob in logprobs:
        value = float(logprob)
        if math.isnan(value):
            raise ValueError("logprob is NaN")
        if value > 0.0:
            value = 0.0
        if value != -math.inf:
            probs.append(math.exp(value))
    total = math.fsum(probs)
    if total > 1.0:
        probs = [p / total for p in probs]
        rest = 0.0
    else:
        rest = 1.0 - total
    entropy = -math.fsum(p * math.log(p) for p in probs if p > 0.0)
    if rest > 0.0:
        entropy -= rest * math.log(rest)
    return max(entropy, 0.0)


def parse_logprobs(logprobs: object) -> list[TokenLogprobs]:
    """Normalise any accepted logprobs shape into one :class:`TokenLogprobs` per token.

    ``None`` (or a wrapper whose ``content`` is ``None``) gives ``[]``; an unsupported shape
    raises :class:`TypeError`.
    """
    if logprobs is None:
        return []
    content = _field(logprobs, "content")
    if content is not _MISSING:
        return parse_logprobs(content)
    if _field(logprobs, "logprob") is not _MISSING:
        return [_entry(logprobs)]
    if isinstance(logprobs, Sequence) and not isinstance(logprobs, str | bytes):
        return [_entry(item) for item in logprobs]
    raise TypeError(
        f"unsupported logprobs object {type(logprobs).__name__}: expected a list of "
        "{'token', 'logprob', 'top_logprobs'} entries or a {'content': [...]} wrapper"
    )


def logprobs_entropy(logprobs: object) -> float | None:
    """Entropy of a streamed chunk's logprobs: the highest over its tokens, ``None`` if none.

    A chunk usually carries one token; when it carries several, the most uncertain one counts.
    """
    best: float | None = None
    for entry in parse_logprobs(logprobs):
        value = entry.entropy()
        if value is not None and (best is None or value > best):
            best = value
    return best


class _Missing:
    pass


_MISSING = _Missing()


def _field(obj: object, name: str) -> object:
    # ``type(...) is dict`` first: ABC isinstance checks dominate the cost per token otherwise
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name, _MISSING)
    return getattr(obj, name, _MISSING)


def _number(value: object, what: str) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    return float(value)


def _entry(item: object) -> TokenLogprobs:
    token = _field(item, "token")
    logprob = _field(item, "logprob")
    top = _field(item, "top_logprobs")
    return TokenLogprobs(
        token=token if isinstance(token, str) else "",
        logprob=None if logprob is _MISSING or logprob is None else _number(logprob, "logprob"),
        top=_top(top),
    )


def _top(top: object) -> tuple[tuple[str, float], ...]:
    if top is _MISSING or top is None:
        return ()
    if isinstance(top, Mapping):  # legacy {token: logprob}
        return tuple((str(token), _number(lp, "top logprob")) for token, lp in top.items())
    if not isinstance(top, Sequence) or isinstance(top, str | bytes):
        raise TypeError(f"top_logprobs must be a list, got {type(top).__name__}")
    alternatives: list[tuple[str, float]] = []
    for alternative in top:
        if type(alternative) is tuple and len(alternative) == 2:  # (token, logprob) pairs
            token, logprob = alternative
        else:
            token = _field(alternative, "token")
            logprob = _field(alternative, "logprob")
        if logprob is _MISSING:
            raise TypeError(f"top_logprobs entry without a logprob: {alternative!r:.100}")
        if logprob is not None:
            token = token if isinstance(token, str) else ""
            alternatives.append((token, _number(logprob, "top logprob")))
    return tuple(alternatives)
