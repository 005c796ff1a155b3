"""The agent middleware's pauses: answer review requests and held tool calls (``interrupt()``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.types import interrupt
from pydantic import ValidationError

from guardrail.errors import GuardrailConfigError

from ..langgraph.review import ReviewResponse
from .handler import METADATA_KEY
from .tool_calls import ToolCallVerdict, apply_decisions, hitl_request, refusal_messages

__all__ = [
    "TOOLS_SETTLED",
    "TOOL_CALLS_KEY",
    "review_response",
    "settle_tool_calls",
]

TOOL_CALLS_KEY = "tool_calls"
"""Key of the judged tool calls in the turn's guardrail record."""
TOOLS_SETTLED = "tool_calls_settled"
"""Set in the record once the held and refused calls were settled."""


def settle_tool_calls(message: AIMessage, record: Mapping[str, Any]) -> dict[str, Any]:
    """Hold (``interrupt()``, LangChain's HITL format) and refuse the judged tool calls."""
    verdicts: list[ToolCallVerdict] = list(record[TOOL_CALLS_KEY])
    request = hitl_request(verdicts)
    if request["action_requests"]:
        resumed = interrupt(request)
        # -- runs once the reviewer answered (LangGraph re-ran this node up to the interrupt) --
        message, verdicts = apply_decisions(message, verdicts, resumed)
    metadata = {
        **message.response_metadata,
        METADATA_KEY: {**record, TOOL_CALLS_KEY: verdicts, TOOLS_SETTLED: True},
    }
    updated = message.model_copy(update={"response_metadata": metadata})
    return {"messages": [updated, *refusal_messages(verdicts)]}


def review_response(raw: object) -> ReviewResponse:
    """The reviewer's resume value as a :class:`ReviewResponse`, or a clear error."""
    if isinstance(raw, ReviewResponse):
        return raw
    try:
        return ReviewResponse.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        raise GuardrailConfigError(
            f"the value resumed into a guardrail review is not a verdict ({problems}); resume "
            'with Command(resume={"verdict": "approve" | "edit" | "reject", '
            '"edited_answer": ...})'
        ) from None
