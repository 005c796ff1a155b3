"""FineCE confidence at positions of an answer, by replaying its tokens through the monitor.

Replaying the recorded tokens through :class:`~guardrail.monitor.ConfidenceMonitor` (one
incremental scoring session per answer) gives the estimates exactly where the product would
take them. Two uses:

* :func:`score_positions`: the question, every paragraph end and the outcome (paragraph trigger,
  no gap, no cap). Paragraph ends that leave only whitespace after them are the outcome's state
  and are dropped, so with ``z`` paragraphs there are ``z - 1`` process estimates: ``p(1)`` is
  the first and ``p(z-1)`` the last (with a single paragraph, ``p(1)`` is the outcome and
  ``p(z-1)`` the question);
* :func:`replay_strategy`: one checkpoint strategy with the product's defaults (gap, cap), to
  compare where and how early each strategy estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from guardrail.errors import GuardrailConfigError
from guardrail.events import CheckpointEvent, Stage
from guardrail.monitor import ConfidenceMonitor
from guardrail.scorers.base import Scorer
from guardrail.triggers.config import (
    CheckpointSettings,
    EntropyTriggerSpec,
    ParagraphTriggerSpec,
    PeriodicTriggerSpec,
    TriggerSpec,
)

if TYPE_CHECKING:
    from guardrail.generation import TokenStep

__all__ = [
    "RELATIVE_BUCKETS",
    "STRATEGY_NAMES",
    "PositionTrace",
    "StrategyTrace",
    "position_samples",
    "relative_bucket",
    "replay_strategy",
    "score_positions",
    "strategy_settings",
]

STRATEGY_NAMES: tuple[str, ...] = ("paragraph", "periodic", "entropy")
RELATIVE_BUCKETS: tuple[str, ...] = ("0-25", "25-50", "50-75", "75-100")
"""Relative-position buckets: the share of the answer's tokens seen at an estimate (percent)."""

_NO_CAP = 1_000_000
_POSITION_SETTINGS = CheckpointSettings(
    strategies=[ParagraphTriggerSpec()], min_gap=0, max_per_answer=_NO_CAP
)


@dataclass(frozen=True, slots=True)
class PositionTrace:
    """FineCE estimates along one answer: question, paragraph ends, outcome.

    ``process[i]`` was taken after ``process_tokens[i]`` of the answer's ``tokens`` tokens.
    """

    question: float
    process: tuple[float, ...]
    process_tokens: tuple[int, ...]
    outcome: float
    tokens: int

    @property
    def p1(self) -> float:
        """After the first paragraph (the outcome when there is one paragraph)."""
        return self.process[0] if self.process else self.outcome

    @property
    def pz1(self) -> float:
        """After the last-but-one paragraph (the question when there is one paragraph)."""
        return self.process[-1] if self.process else self.question

    @property
    def p1_token_share(self) -> float:
        """Share of the answer's tokens seen at ``p(1)``."""
        if not self.process or self.tokens == 0:
            return 1.0
        return self.process_tokens[0] / self.tokens

    @property
    def chain(self) -> tuple[float, ...]:
        """Every estimate in order: question, process ..., outcome."""
        return (self.question, *self.process, self.outcome)

    def with_chain(self, values: Sequence[float]) -> PositionTrace:
        """The same positions with other values (e.g. BCI revisions) along :attr:`chain`."""
        if len(values) != len(self.process) + 2:
            raise ValueError(f"expected {len(self.process) + 2} values, got {len(values)}")
        return PositionTrace(
            values[0], tuple(values[1:-1]), self.process_tokens, values[-1], self.tokens
        )


@dataclass(frozen=True, slots=True)
class StrategyTrace:
    """Process estimates of one strategy on one answer, with the token count at each."""

    confidences: tuple[float, ...]
    token_indices: tuple[int, ...]
    tokens: int

    @property
    def first_token_share(self) -> float:
        """Share of tokens seen before the first estimate (1.0: none before the outcome)."""
        if not self.token_indices or self.tokens == 0:
            return 1.0
        return self.token_indices[0] / self.tokens


def relative_bucket(token_index: int, tokens: int) -> str:
    """The :data:`RELATIVE_BUCKETS` label of an estimate after ``token_index`` of ``tokens``."""
    share = token_index / tokens if tokens else 1.0
    return RELATIVE_BUCKETS[min(int(share * 4), 3)]


def _replay(
    scorer: Scorer, question: str, tokens: Sequence[TokenStep], settings: CheckpointSettings
) -> list[CheckpointEvent]:
    monitor = ConfidenceMonitor(scorer, question, settings)
    try:
        monitor.start()
        for token in tokens:
            monitor.feed(token.text, token.openai_logprob())
        monitor.finish()
    finally:
        monitor.close()
    return list(monitor.events)


def score_positions(scorer: Scorer, question: str, tokens: Sequence[TokenStep]) -> PositionTrace:
    """FineCE at the question, each paragraph end (but the last) and the outcome."""
    events = _replay(scorer, question, tokens, _POSITION_SETTINGS)
    answer = "".join(t.text for t in tokens)
    process = [e for e in events if e.stage is Stage.PROCESS and answer[e.char_end :].strip() != ""]
    question_event = next(e for e in events if e.stage is Stage.QUESTION)
    outcome_event = next(e for e in events if e.stage is Stage.OUTCOME)
    return PositionTrace(
        question=question_event.confidence,
        process=tuple(e.confidence for e in process),
        process_tokens=tuple(e.token_index for e in process),
        outcome=outcome_event.confidence,
        tokens=_visible_tokens(tokens),
    )


def strategy_settings(
    name: str, *, periodic_every: int = 32, entropy_threshold: float = 1.0
) -> CheckpointSettings:
    """The product's checkpoint settings with only strategy ``name`` (no question/outcome)."""
    specs: dict[str, TriggerSpec] = {
        "paragraph": ParagraphTriggerSpec(),
        "periodic": PeriodicTriggerSpec(every=periodic_every),
        "entropy": EntropyTriggerSpec(threshold=entropy_threshold, source="logprobs"),
    }
    if name not in specs:
        raise GuardrailConfigError(f"unknown strategy {name!r}; expected one of {', '.join(specs)}")
    return CheckpointSettings(strategies=[specs[name]], score_question=False, score_outcome=False)


def replay_strategy(
    scorer: Scorer,
    question: str,
    tokens: Sequence[TokenStep],
    settings: CheckpointSettings,
) -> StrategyTrace:
    """The process estimates ``settings`` place on this answer."""
    events = [e for e in _replay(scorer, question, tokens, settings) if e.stage is Stage.PROCESS]
    return StrategyTrace(
        confidences=tuple(e.confidence for e in events),
        token_indices=tuple(e.token_index for e in events),
        tokens=_visible_tokens(tokens),
    )


def _visible_tokens(tokens: Sequence[TokenStep]) -> int:
    """Tokens with text: the ones the monitor counts (a split character yields an empty one)."""
    return sum(1 for t in tokens if t.text)


def position_samples(
    traces: Sequence[PositionTrace], correct: Sequence[bool]
) -> dict[str, tuple[list[float], list[bool]]]:
    """``(confidences, outcomes)`` per position across answers.

    Keys: ``question``, ``p1``, ``pz1``, ``outcome``, ``process`` (every paragraph-end estimate
    pooled, labelled with its answer's outcome) and one per :data:`RELATIVE_BUCKETS` label (the
    process estimates taken in that share of the answer's tokens).
    """
    samples: dict[str, tuple[list[float], list[bool]]] = {
        key: ([], []) for key in ("question", "p1", "pz1", "outcome", "process", *RELATIVE_BUCKETS)
    }

    def add(key: str, value: float, label: bool) -> None:
        samples[key][0].append(value)
        samples[key][1].append(label)

    for trace, label in zip(traces, correct, strict=True):
        add("question", trace.question, label)
        add("p1", trace.p1, label)
        add("pz1", trace.pz1, label)
        add("outcome", trace.outcome, label)
        for value, index in zip(trace.process, trace.process_tokens, strict=True):
            add("process", value, label)
            add(relative_bucket(index, trace.tokens), value, label)
    return samples
