"""End to end on the embedded model: retried, escalated, then sent to review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from guardrail.audit import JsonlAuditLog
from guardrail.integrations.langchain import guard
from guardrail.review import SQLiteReviewQueue

pytestmark = pytest.mark.slow

EMBEDDED = "builtin:smollm2-135m-instruct"

# Any real confidence is below 1.0, so every attempt's outcome is "low": the policy retries
# once, escalates to the one larger target, and then hands the answer to review.
POLICY: dict[str, Any] = {
    "name": "e2e",
    "scorer": {"model": EMBEDDED, "device": "cpu", "latency_budget_s": 120.0},
    "checkpoints": {"strategies": [{"type": "paragraph"}], "min_gap": 4},
    "on_error": "fail_closed",
    "rules": [
        {
            "name": "low-outcome",
            "when": {"stage": "outcome", "confidence_below": 1.0},
            "action": {
                "type": "retry",
                "max_attempts": 1,
                "temperature": 0.7,
                "backoff": {"initial_s": 0.0, "max_s": 0.0},
                "on_exhausted": {
                    "type": "escalate",
                    "targets": ["smollm2-careful"],
                    "on_exhausted": {"type": "human_review", "mode": "provisional"},
                },
            },
        }
    ],
}


def test_low_confidence_answer_is_retried_escalated_and_reviewed(
    embedded_scorer: Any, tmp_path: Path
) -> None:
    chat_model = pytest.importorskip("guardrail.integrations.langchain.chat_model")
    small = chat_model.ChatLocalModel(model=EMBEDDED, max_tokens=32, device="cpu")
    careful = chat_model.ChatLocalModel(model=EMBEDDED, max_tokens=48, device="cpu", seed=7)
    queue = SQLiteReviewQueue(tmp_path / "review.db")
    audit = JsonlAuditLog(tmp_path / "audit.jsonl")
    guarded = guard(
        small,
        POLICY,
        embedded_scorer,
        models={"smollm2-careful": careful},
        review=queue,
        audit=audit,
    )
    result = guarded.invoke("What is 6 times 7? Answer briefly.")

    assert [(a.kind, a.model) for a in result.attempts] == [
        ("initial", EMBEDDED),
        ("retry", EMBEDDED),
        ("escalate", "smollm2-careful"),
    ]
    assert all(a.events and a.events[-1].stage.value == "outcome" for a in result.attempts)
    assert all(0.0 <= (a.final_confidence or 0.0) < 1.0 for a in result.attempts)
    assert [a.type for a in result.actions] == ["retry", "escalate", "human_review"]
    assert result.status == "pending_review"
    assert result.output.content == result.answer
    assert result.answer.strip()

    item = queue.get(result.review_id)
    assert item.answer == result.answer
    assert item.question == "What is 6 times 7? Answer briefly."
    assert [a.attempt for a in item.attempts] == [1, 2]
    assert [a.action for a in item.attempts] == ["retry", "escalate"]
    kinds = [r.kind.value for r in audit.tail(200)]
    assert kinds[0] == "run_start"
    assert kinds[-1] == "run_end"
    assert kinds.count("action") == 3
