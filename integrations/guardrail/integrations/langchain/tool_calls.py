"""Tool calls the guard can hold: judging an agent turn's tool calls and carrying the verdict out.

A model turn that calls tools is an action, not an answer. When the policy has a rule for the
``tool_call`` stage (``when: {stage: tool_call, tool: [send_email, delete_file]}``), each call
of such a turn is judged before it runs: the scorer reads the turn as an answer that ends in the
call (:func:`render_call`), the confidence becomes a ``tool_call`` checkpoint whose
``RunContext.tool`` is the tool's name, and the policy decides. What each action does with the
call (:func:`tool_call_status`):

* ``continue``: the call runs (``allowed``); ``flag``: it runs and the flag is recorded
  (``flagged``);
* ``human_review`` (either mode): the call is **held** for a person, in LangChain's
  human-in-the-loop format (:class:`HITLRequest`: ``action_requests`` and ``review_configs``;
  resume with ``{"decisions": [{"type": "approve"} | {"type": "edit", "edited_action":
  {"name", "args"}} | {"type": "reject", "message": ...}]}``);
* ``abort``: the call is **refused**: it does not run, and the model gets a tool message saying
  why (the action's ``message``);
* ``retry``, ``escalate``, ``self_correct``: the whole turn is generated again, as for an answer.

Checkpoints and decisions are written to the call's audit run (and its trace), like an answer's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from langchain_core.messages import AIMessage, ToolCall, ToolMessage

from guardrail.audit.sink import AuditSink
from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import Condition, Decision, Policy, PolicyEngine, RunContext
from guardrail.policy.actions import AbortAction
from guardrail.scorers.base import Scorer

__all__ = [
    "ActionRequest",
    "HITLRequest",
    "ReviewConfig",
    "ToolCallStatus",
    "ToolCallVerdict",
    "apply_decisions",
    "hitl_request",
    "judge_tool_calls",
    "judges_tool_calls",
    "refusal_messages",
    "render_call",
    "tool_call_status",
]

ToolCallStatus = Literal[
    "allowed", "flagged", "held", "refused", "regenerated", "approved", "edited", "rejected"
]
"""What became of one tool call: ``allowed``/``flagged`` (it runs), ``held`` (waiting for a
person), ``refused`` (the policy refused it; the model is told), ``regenerated`` (the turn is
generated again), then a person's ``approved``/``edited``/``rejected``."""

_HELD_DECISIONS = ["approve", "edit", "reject"]


class ActionRequest(TypedDict):
    """One held tool call, as LangChain's ``HumanInTheLoopMiddleware`` shows it."""

    name: str
    args: dict[str, Any]
    description: NotRequired[str]


class ReviewConfig(TypedDict):
    """The decisions a reviewer may take on one held call."""

    action_name: str
    allowed_decisions: list[str]


class HITLRequest(TypedDict):
    """The ``interrupt()`` value of held tool calls (LangChain's human-in-the-loop format)."""

    action_requests: list[ActionRequest]
    review_configs: list[ReviewConfig]


class ToolCallVerdict(TypedDict):
    """The guard's record of one judged tool call.

    Kept in the turn's ``response_metadata["guardrail"]["tool_calls"]``.
    """

    id: str | None
    """The model's tool call id."""
    name: str
    """The tool called."""
    args: dict[str, Any]
    """The arguments as the model wrote them."""
    confidence: float | None
    """The scorer's confidence in the turn that makes the call (``None``: not scored)."""
    action: str
    """The policy's action type."""
    rule: str | None
    """The rule that decided (``None``: the default action or ``on_error``)."""
    reasons: list[str]
    """Why the rule matched."""
    status: ToolCallStatus
    """What became of the call (:data:`ToolCallStatus`)."""
    message: NotRequired[str]
    """The tool message the model got instead of the tool's result (refused, rejected)."""
    edited_args: NotRequired[dict[str, Any]]
    """The arguments a reviewer wrote (``edited``)."""


def judges_tool_calls(policy: Policy) -> bool:
    """True when a rule of ``policy`` names the ``tool_call`` stage or a ``tool:``."""
    return any(_names_tool_calls(rule.when) for rule in policy.rules)


def _names_tool_calls(condition: Condition) -> bool:
    if condition.tool is not None:
        return True
    if condition.stage is not None and "tool_call" in condition.stage.stages:
        return True
    subs = [*(condition.all_ or ()), *(condition.any_ or ())]
    if condition.not_ is not None:
        subs.append(condition.not_)
    return any(_names_tool_calls(sub) for sub in subs)


def render_call(text: str, call: ToolCall) -> str:
    """The turn as the scorer reads it: its text, then the call written out."""
    args = json.dumps(call["args"], sort_keys=True, ensure_ascii=False, default=str)
    rendered = f"I will call the tool {call['name']} with the arguments {args}."
    return f"{text.rstrip()}\n{rendered}" if text.strip() else rendered


@dataclass(frozen=True, slots=True)
class JudgedCall:
    """One tool call, its checkpoint and the policy's decision."""

    call: ToolCall
    event: CheckpointEvent | None
    decision: Decision


def judge_tool_calls(
    *,
    engine: PolicyEngine,
    scorer: Scorer,
    question: str,
    text: str,
    calls: Sequence[ToolCall],
    context: RunContext,
    audit: AuditSink | None,
    first_index: int = 1,
) -> list[JudgedCall]:
    """Score and decide every call of one turn; audit each checkpoint and decision.

    A scorer failure becomes the policy's ``on_error`` decision (``fail_closed``: the call is
    refused), never a silent pass.
    """
    judged: list[JudgedCall] = []
    for offset, call in enumerate(calls):
        rendered = render_call(text, call)
        tool_context = _with_tool(context, call["name"])
        started = time.monotonic()
        try:
            confidence = float(scorer.score(question, rendered))
        except GuardrailRuntimeError as exc:
            if audit is not None:
                audit.error(exc, {"source": "scorer", "tool": call["name"]})
            decision = engine.decide_error(exc, None, tool_context)
            judged.append(JudgedCall(call, None, decision))
            continue
        event = CheckpointEvent(
            index=first_index + offset,
            stage=Stage.TOOL_CALL,
            reason=f"tool_call:{call['name']}",
            token_index=0,
            char_start=0,
            char_end=len(rendered),
            confidence=confidence,
            revised=confidence,
            latency_s=time.monotonic() - started,
        )
        if audit is not None:
            audit.checkpoint(event, model=context.model, attempt=context.attempt, text=rendered)
        decision = engine.decide(event, tool_context)
        if audit is not None:
            audit.decision(decision.to_dict())
        judged.append(JudgedCall(call, event, decision))
    return judged


def _with_tool(context: RunContext, tool: str) -> RunContext:
    return RunContext(
        attempt=context.attempt,
        model=context.model,
        tags=context.tags,
        metadata=context.metadata,
        max_tokens=context.max_tokens,
        tool=tool,
    )


def tool_call_status(decision: Decision) -> ToolCallStatus:
    """What the decision does with the call (see the module documentation)."""
    match decision.action.type:
        case "continue":
            return "allowed"
        case "flag":
            return "flagged"
        case "human_review":
            return "held"
        case "abort":
            return "refused"
        case _:
            return "regenerated"


def verdict(judged: JudgedCall) -> ToolCallVerdict:
    """The JSON-ready record of one judged call."""
    decision = judged.decision
    call = judged.call
    record = ToolCallVerdict(
        id=call.get("id"),
        name=call["name"],
        args=dict(call["args"]),
        confidence=None if judged.event is None else judged.event.revised,
        action=decision.action.type,
        rule=decision.rule,
        reasons=list(decision.reasons),
        status=tool_call_status(decision),
    )
    action = decision.action
    if isinstance(action, AbortAction):
        confidence = record["confidence"]
        said = "unknown" if confidence is None else f"{confidence:.2f}"
        record["message"] = (
            f"The guardrail refused this call of `{call['name']}` (confidence {said}, rule "
            f"{decision.rule or 'default'}): {action.message} The tool was not run."
        )
    return record


def hitl_request(verdicts: Sequence[ToolCallVerdict]) -> HITLRequest:
    """The human-in-the-loop request for the held calls among ``verdicts``."""
    requests: list[ActionRequest] = []
    configs: list[ReviewConfig] = []
    for record in verdicts:
        if record["status"] != "held":
            continue
        confidence = record["confidence"]
        said = "unknown" if confidence is None else f"{confidence:.2f}"
        description = (
            f"The guardrail holds this tool call for approval (confidence {said}, rule "
            f"{record['rule'] or 'default'}): {'; '.join(record['reasons'])}\n\n"
            f"Tool: {record['name']}\nArgs: {json.dumps(record['args'], default=str)}"
        )
        requests.append(
            ActionRequest(name=record["name"], args=record["args"], description=description)
        )
        configs.append(ReviewConfig(action_name=record["name"], allowed_decisions=_HELD_DECISIONS))
    return HITLRequest(action_requests=requests, review_configs=configs)


def refusal_messages(verdicts: Sequence[ToolCallVerdict]) -> list[ToolMessage]:
    """A tool message for each refused or rejected call (the model reads it instead)."""
    return [
        ToolMessage(
            content=record.get("message", ""),
            name=record["name"],
            tool_call_id=record["id"] or "",
            status="error",
        )
        for record in verdicts
        if record["status"] in ("refused", "rejected")
    ]


def apply_decisions(
    message: AIMessage, verdicts: Sequence[ToolCallVerdict], resumed: object
) -> tuple[AIMessage, list[ToolCallVerdict]]:
    """Apply a reviewer's ``{"decisions": [...]}`` to the held calls, in order.

    ``approve`` lets the call run, ``edit`` replaces its arguments (``edited_action``: the same
    ``name`` and new ``args``), ``reject`` refuses it with the reviewer's ``message``. Returns
    the message with its tool calls updated and the verdicts with the reviewers' statuses.
    """
    decisions = _decisions(resumed)
    held = [index for index, record in enumerate(verdicts) if record["status"] == "held"]
    if len(decisions) != len(held):
        raise GuardrailConfigError(
            f"the guardrail held {len(held)} tool call(s) but the resume value has "
            f"{len(decisions)} decision(s); resume with Command(resume={{'decisions': [...]}}), "
            "one decision per held call, in order"
        )
    updated = [ToolCallVerdict(**record) for record in verdicts]
    calls = [dict(call) for call in message.tool_calls]
    for index, decision in zip(held, decisions, strict=True):
        record = updated[index]
        kind = decision.get("type")
        if kind == "approve":
            record["status"] = "approved"
        elif kind == "edit":
            args = _edited_args(decision, record["name"])
            record["status"], record["edited_args"] = "edited", args
            for call in calls:
                if call.get("id") == record["id"]:
                    call["args"] = args
        elif kind == "reject":
            reason = decision.get("message")
            record["status"] = "rejected"
            record["message"] = (
                f"A reviewer rejected the call of `{record['name']}`: {reason}"
                if reason
                else f"A reviewer rejected the call of `{record['name']}`; it was not run. "
                "Do not call it again unless the user asks for it."
            )
        else:
            raise GuardrailConfigError(
                f"tool call decision {decision!r}: type must be 'approve', 'edit' or 'reject'"
            )
    return message.model_copy(update={"tool_calls": calls}), updated


def _decisions(resumed: object) -> list[Mapping[str, Any]]:
    decisions = resumed.get("decisions") if isinstance(resumed, Mapping) else None
    if not isinstance(decisions, list) or not all(isinstance(d, Mapping) for d in decisions):
        raise GuardrailConfigError(
            f"the value resumed into held tool calls is {resumed!r}; resume with "
            "Command(resume={'decisions': [{'type': 'approve'} | {'type': 'edit', "
            "'edited_action': {'name': ..., 'args': {...}}} | {'type': 'reject', "
            "'message': ...}]})"
        )
    return decisions


def _edited_args(decision: Mapping[str, Any], name: str) -> dict[str, Any]:
    action = decision.get("edited_action")
    args = action.get("args") if isinstance(action, Mapping) else None
    if not isinstance(action, Mapping) or not isinstance(args, Mapping):
        raise GuardrailConfigError(
            f"an edit of the call of {name!r} needs edited_action: {{'name': ..., 'args': {{...}}}}"
        )
    if action.get("name", name) != name:
        raise GuardrailConfigError(
            f"an edit may change the arguments of the call of {name!r}, not the tool "
            f"(got {action.get('name')!r})"
        )
    return dict(args)
