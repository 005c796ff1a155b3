"""LangGraph integration: route low-confidence answers to a human with ``interrupt()``.

Needs the ``langchain`` extra (``pip install 'finece-guardrail[langchain]'``).
"""

from guardrail._optional import require

require("langgraph", "langchain")

from .review import (  # noqa: E402
    GuardrailState,
    ReviewRequest,
    ReviewResponse,
    add_guarded_review,
    guarded_node,
    human_review_node,
    needs_review,
)

__all__ = [
    "GuardrailState",
    "ReviewRequest",
    "ReviewResponse",
    "add_guarded_review",
    "guarded_node",
    "human_review_node",
    "needs_review",
]
