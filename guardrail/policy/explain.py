"""A plain-English summary of what a policy will do (``guardrail policy explain``)."""

from __future__ import annotations

from typing import assert_never

from guardrail.policy.actions import (
    AbortAction,
    ContinueAction,
    EscalateAction,
    FlagAction,
    HumanReviewAction,
    RetryAction,
    SelfCorrectAction,
)
from guardrail.policy.conditions import (
    Atom,
    AttemptCondition,
    Condition,
    ConfidenceAbove,
    ConfidenceBelow,
    ConsecutiveLow,
    DropFromMax,
    MetadataCondition,
    MinFractionSeen,
    MinTokens,
    ModelCondition,
    ScorerMismatchCondition,
    StageCondition,
    TagsCondition,
    ToolCondition,
)
from guardrail.policy.decision import AnyAction
from guardrail.policy.drift import CalibrationDrift
from guardrail.policy.fields import fmt
from guardrail.policy.schema import Policy
from guardrail.redaction import safe_url
from guardrail.triggers.config import (
    CheckpointSettings,
    EntropyTriggerSpec,
    ParagraphTriggerSpec,
    PeriodicTriggerSpec,
)

__all__ = ["describe_action", "describe_condition", "explain"]


def _confidence(source: str) -> str:
    return "confidence" if source == "revised" else "raw confidence"


def _describe_confidence(atom: ConfidenceBelow | ConfidenceAbove | DropFromMax) -> str:
    match atom:
        case ConfidenceBelow():
            return f"{_confidence(atom.source)} is below {fmt(atom.value)}"
        case ConfidenceAbove():
            return f"{_confidence(atom.source)} is above {fmt(atom.value)}"
        case DropFromMax():
            return (
                f"{_confidence(atom.source)} has dropped by at least {fmt(atom.delta)} "
                "from its highest value so far"
            )
        case _:
            assert_never(atom)


def _describe_run(
    atom: AttemptCondition | ModelCondition | TagsCondition | MetadataCondition,
) -> str:
    match atom:
        case AttemptCondition():
            if atom.min == atom.max:
                return f"this is attempt {atom.min}"
            low = f"from attempt {atom.min}" if atom.min is not None else ""
            high = f"up to attempt {atom.max}" if atom.max is not None else ""
            return "this is " + " ".join(part for part in (low, high) if part)
        case ModelCondition():
            return "the model matches " + " or ".join(atom.patterns)
        case TagsCondition():
            parts = []
            if atom.all_of:
                parts.append("tagged " + " and ".join(atom.all_of))
            if atom.any_of:
                parts.append("tagged any of " + ", ".join(atom.any_of))
            if atom.none_of:
                parts.append("not tagged " + " or ".join(atom.none_of))
            return "the run is " + " and ".join(parts)
        case MetadataCondition():
            pairs = ", ".join(f"{k}={v}" for k, v in atom.equals.items())
            return f"the run metadata has {pairs}"
        case _:
            assert_never(atom)


def _describe_atom(atom: Atom) -> str:
    match atom:
        case ConfidenceBelow() | ConfidenceAbove() | DropFromMax():
            return _describe_confidence(atom)
        case ConsecutiveLow():
            return (
                f"the last {atom.count} checkpoints all had {_confidence(atom.source)} "
                f"below {fmt(atom.below)}"
            )
        case StageCondition():
            return "at the " + " or ".join(atom.stages) + " stage"
        case MinTokens():
            return f"at least {atom.tokens} answer tokens are written"
        case MinFractionSeen():
            return f"at least {fmt(atom.fraction * 100)}% of the token limit is written"
        case AttemptCondition() | ModelCondition() | TagsCondition() | MetadataCondition():
            return _describe_run(atom)
        case ScorerMismatchCondition():
            if atom.value:
                return "the scorer was not trained or calibrated on the guarded model"
            return "the scorer was trained or calibrated on the guarded model"
        case ToolCondition():
            return "the checkpoint judges a call of the tool " + " or ".join(atom.patterns)
        case CalibrationDrift():
            beyond = f"more than {fmt(atom.margin)} beyond" if atom.margin else "outside"
            return (
                f"the live calibration error (last decided review items, at least "
                f"{atom.min_items}) is {beyond} its noise band"
            )
        case _:
            assert_never(atom)


def describe_condition(condition: Condition) -> str:
    """One English phrase for a ``when:`` block."""
    parts = [_describe_atom(atom) for atom in condition.atoms()]
    if condition.all_ is not None:
        parts.append("(" + " and ".join(describe_condition(c) for c in condition.all_) + ")")
    if condition.any_ is not None:
        parts.append("(" + " or ".join(describe_condition(c) for c in condition.any_) + ")")
    if condition.not_ is not None:
        parts.append("not (" + describe_condition(condition.not_) + ")")
    return " and ".join(parts)


def describe_action(action: AnyAction) -> str:
    """One English phrase for an action, including what happens once it is exhausted."""
    match action:
        case AbortAction():
            if action.fallback_answer is None:
                return f"abort the answer with the message {action.message!r}"
            return f"abort the answer and return the fallback answer {action.fallback_answer!r}"
        case RetryAction():
            backoff = action.backoff
            temperature = (
                f" at temperature {fmt(action.temperature)}"
                if action.temperature is not None
                else ""
            )
            return (
                f"retry up to {action.max_attempts} time(s){temperature}, waiting "
                f"{fmt(backoff.initial_s)}-{fmt(backoff.max_s)} s (x{fmt(backoff.multiplier)}, "
                f"{fmt(backoff.jitter * 100)}% jitter); after that, "
                + describe_action(action.on_exhausted)
            )
        case EscalateAction():
            return (
                "escalate to the next model of "
                + " -> ".join(action.targets)
                + "; after the last one, "
                + describe_action(action.on_exhausted)
            )
        case SelfCorrectAction():
            return f"ask the model to correct itself (up to {action.max_rounds} round(s))"
        case HumanReviewAction():
            how = (
                "wait for the reviewer"
                if action.mode == "blocking"
                else "return the answer marked as pending review"
            )
            return f"send the answer to human review queue {action.queue!r} and {how}"
        case FlagAction():
            return f"flag the answer as {action.label!r} ({action.severity}) and continue"
        case ContinueAction():
            return "continue"
        case _:
            assert_never(action)


def _describe_checkpoints(settings: CheckpointSettings) -> str:
    strategies = []
    for spec in settings.strategies:
        match spec:
            case ParagraphTriggerSpec():
                strategies.append("at the end of each paragraph")
            case PeriodicTriggerSpec():
                strategies.append(f"every {spec.every} tokens")
            case EntropyTriggerSpec():
                strategies.append(f"when next-token entropy exceeds {fmt(spec.threshold)} nats")
            case _:
                assert_never(spec)
    joiner = " or " if settings.combine == "any" else " and "
    extra = [
        f"at most {settings.max_per_answer} per answer",
        f"at least {settings.min_gap} tokens apart",
    ]
    if settings.score_question:
        extra.append("plus one before the answer starts")
    if settings.score_outcome:
        extra.append("plus one on the complete answer")
    return "Confidence is estimated " + joiner.join(strategies) + " (" + ", ".join(extra) + ")."


def explain(policy: Policy) -> str:
    """A multi-line plain-English summary of ``policy``."""
    lines = [f"Policy {policy.name!r} (version {policy.version})."]
    if policy.description:
        lines.append(policy.description.strip())
    scorer = policy.scorer
    where = (
        f"served by {scorer.engine} at {safe_url(scorer.url)}"
        if scorer.url is not None
        else f"on device {scorer.device}"
    )
    lines.append(
        f"Scorer: {scorer.model} {where}; an estimate may take {fmt(scorer.latency_budget_s)} s."
    )
    lines.append(_describe_checkpoints(policy.checkpoints))
    bci = policy.bci
    if bci.depth == 0 and bci.width == 0:
        lines.append("Backward confidence integration is off (estimates are used as they are).")
    else:
        lines.append(
            f"Earlier estimates are revised with later ones (alpha {fmt(bci.alpha)}, "
            f"depth {bci.depth}, width {bci.width})."
        )
    if policy.checkpoints.blocking:
        lines.append("The stream waits for each checkpoint's score (blocking checkpoints).")
    else:
        lines.append(
            "Checkpoints are scored beside the stream: tokens keep flowing and a decision "
            "applies when its score lands, a few tokens later."
        )
    if policy.on_error == "fail_closed":
        lines.append("If the scorer fails or hangs, the answer is aborted (fail-closed).")
    else:
        lines.append("If the scorer fails or hangs, the answer goes on unchecked (fail-open).")
    match policy.overload:
        case "skip_process":
            lines.append(
                "If the scorer falls behind, process checkpoints are skipped; the question "
                "and outcome estimates are kept."
            )
        case "fail_closed":
            lines.append("If the scorer falls behind, the answer is aborted.")
        case "fail_open":
            lines.append("If the scorer falls behind, the answer goes on unchecked.")
    if policy.rules:
        lines.append("At each checkpoint the first matching rule decides:")
        for number, rule in enumerate(policy.rules, start=1):
            lines.append(
                f"  {number}. {rule.name}: when {describe_condition(rule.when)}, "
                f"{describe_action(rule.action)}."
            )
        lines.append(f"Otherwise: {describe_action(policy.default_action)}.")
    else:
        lines.append(f"There are no rules: always {describe_action(policy.default_action)}.")
    return "\n".join(lines)
