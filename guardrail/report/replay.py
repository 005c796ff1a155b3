"""Score a given answer as if it streamed, and report what a policy would decide.

:func:`inspect_answer` replays the answer token by token (cut with the scorer's tokenizer when it
has one) through a :class:`~guardrail.monitor.ConfidenceMonitor` with the policy's checkpoint and
BCI settings, asks the :class:`~guardrail.policy.PolicyEngine` for a decision at every checkpoint
and returns the :class:`~guardrail.report.model.RunReport` that ``guardrail inspect`` renders.
Unlike a guarded run it never stops early: every checkpoint is scored and judged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from guardrail.errors import GuardrailRuntimeError
from guardrail.events import CheckpointEvent
from guardrail.monitor import ConfidenceMonitor
from guardrail.policy import Decision, Policy, PolicyEngine, RunContext, explain, load_preset
from guardrail.report.model import ReportAttempt, ReportDecision, RunReport
from guardrail.scorers.base import Scorer

__all__ = ["decision_view", "inspect_answer", "token_pieces"]

DEFAULT_POLICY = "default"
_WORDS = re.compile(r"[^\S\n]*\S+|\n+|[^\S\n]+")


def token_pieces(text: str, tokenizer: Any = None) -> list[str]:
    """``text`` cut into streamed pieces that join back to exactly ``text``.

    With a (fast, Hugging Face) ``tokenizer`` the cuts are its token offsets; without one, or
    when the tokenizer gives no offsets, each piece is a word with the spaces before it, or a
    run of newlines (so a paragraph ends with a piece of its own, as with most tokenizers).
    """
    if not text:
        return []
    starts = _token_starts(tokenizer, text) if tokenizer is not None else None
    if starts is None:
        starts = [match.start() for match in _WORDS.finditer(text)]
    cuts = sorted({0, *(start for start in starts if 0 < start < len(text))})
    return [text[start:end] for start, end in zip(cuts, [*cuts[1:], len(text)], strict=True)]


def _token_starts(tokenizer: Any, text: str) -> list[int] | None:
    try:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
    except (NotImplementedError, TypeError, ValueError, KeyError):
        return None  # a slow tokenizer has no offsets
    return [int(start) for start, end in offsets if end > start]


def decision_view(decision: Decision) -> ReportDecision:
    """The report's view of a policy :class:`~guardrail.policy.Decision`."""
    event = decision.event
    return ReportDecision(
        action=decision.action_type,
        rule=decision.rule,
        reasons=decision.reasons,
        checkpoint=None if event is None else event.index,
        token_index=None if event is None else event.token_index,
        confidence=None if event is None else event.confidence,
        revised=None if event is None else event.revised,
        failure_mode=decision.failure_mode,
        error=decision.error,
    )


class _Replay:
    """One monitor and engine over one answer; decisions and errors collected."""

    def __init__(self, scorer: Scorer, question: str, policy: Policy, context: RunContext) -> None:
        bci = policy.bci
        if bci.width > 0:  # no generator here to sample futures from
            bci = bci.model_copy(update={"width": 0})
        self.monitor = ConfidenceMonitor(scorer, question, settings=policy.checkpoints, bci=bci)
        self.engine = PolicyEngine(policy)
        self.context = context
        self.decisions: list[ReportDecision] = []
        self.errors: list[str] = []

    def run(self, pieces: Sequence[str]) -> None:
        try:
            self._judge(self.monitor.start())
            for piece in pieces:
                self._judge(self.monitor.feed(piece))
            self._judge(self.monitor.finish())
        except GuardrailRuntimeError as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            decision = self.engine.decide_error(exc, None, self.context)
            self.decisions.append(decision_view(decision))
        finally:
            self.monitor.close()

    def _judge(self, event: CheckpointEvent | None) -> None:
        if event is None:
            return
        history = self.monitor.events[:-1]
        self.decisions.append(decision_view(self.engine.evaluate(event, self.context, history)))


def inspect_answer(
    question: str,
    answer: str,
    scorer: Scorer,
    *,
    policy: Policy | None = None,
    policy_source: str | None = None,
    generator: str = "",
    pieces: Sequence[str] | None = None,
) -> RunReport:
    """Score ``answer`` to ``question`` checkpoint by checkpoint and judge it with ``policy``.

    ``policy`` defaults to the shipped ``default`` preset (paragraph checkpoints). ``generator``
    names the model that wrote the answer (for ``model:`` conditions). ``pieces`` overrides how
    the answer is cut into streamed tokens (default: :func:`token_pieces` with the scorer's
    ``tokenizer`` attribute, if any); they must join to ``answer``. A scorer failure becomes the
    policy's ``on_error`` decision and is shown on the page, not raised.
    """
    if policy is None:
        policy = load_preset(DEFAULT_POLICY)
        policy_source = policy_source or f"the shipped preset {DEFAULT_POLICY!r}"
    if pieces is None:
        pieces = token_pieces(answer, getattr(scorer, "tokenizer", None))
    elif "".join(pieces) != answer:
        raise ValueError("pieces must join to the answer")
    replay = _Replay(scorer, question, policy, RunContext(attempt=1, model=generator))
    replay.run(pieces)
    attempt = ReportAttempt(
        number=1,
        model=generator,
        kind="initial",
        answer=answer,
        events=replay.monitor.events,
        decisions=tuple(replay.decisions),
        errors=tuple(replay.errors),
    )
    return RunReport(
        source="inspect",
        question=question,
        attempts=(attempt,),
        status=_would(replay.decisions),
        policy_name=policy.name,
        policy_version=str(policy.version),
        policy_explanation=explain(policy),
        policy_source=policy_source,
        revised_note=_revised_note(policy),
        final_answer=answer,
        errors=tuple(replay.errors),
        notes=_notes(scorer, replay.decisions, len(pieces)),
    )


def _would(decisions: Sequence[ReportDecision]) -> str:
    """What the policy would have done with the answer: its first interrupting decision."""
    for decision in decisions:
        if decision.interrupts:
            return f"would {decision.label}"
    if any(decision.action == "flag" for decision in decisions):
        return "would flag"
    return "would pass"


def _revised_note(policy: Policy) -> str:
    bci = policy.bci
    if bci.depth == 0 or bci.alpha == 1.0:
        return "BCI is off in this policy: revised confidence equals raw confidence."
    text = f"Revised with the policy's BCI (alpha {bci.alpha:g}, depth {bci.depth}"
    if bci.width > 0:
        return text + f"); its {bci.width} sampled future path(s) are left out here."
    return text + ")."


def _notes(scorer: Scorer, decisions: Sequence[ReportDecision], tokens: int) -> tuple[str, ...]:
    notes = [f"Scored by {scorer.name!r}, replaying the answer as {tokens} streamed token(s)."]
    first = next((d for d in decisions if d.interrupts), None)
    if first is not None:
        where = "" if first.checkpoint is None else f" at checkpoint {first.checkpoint}"
        notes.append(
            "Every checkpoint is scored and judged here; in a guarded run the first decision "
            f"other than continue or flag ({first.label}{where}) would have acted on the answer."
        )
    return tuple(notes)
