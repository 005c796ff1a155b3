"""GuardSummary: the one documented summary schema every path attaches to its answers."""

from __future__ import annotations

from typing import get_type_hints

from guardrail.events import CheckpointEvent, Stage
from guardrail.runtime import GuardedResult, GuardSummary, SummaryAction
from guardrail.runtime.records import ActionRecord, AttemptRecord


def test_the_summary_has_exactly_the_documented_keys() -> None:
    event = CheckpointEvent(1, Stage.OUTCOME, "outcome", 3, 0, 9, 0.4, 0.45)
    result: GuardedResult = GuardedResult(
        output=None,
        answer="42",
        status="flagged",
        attempts=[AttemptRecord(attempt=1, model="m", events=(event,))],
        actions=[ActionRecord(type="flag", attempt=1, rule="low", outcome="flagged")],
        run_id="r1",
        policy="p",
    )
    summary = result.summary()
    assert set(summary) == set(get_type_hints(GuardSummary))
    assert set(summary["actions"][0]) == set(get_type_hints(SummaryAction))
    assert summary == {
        "status": "flagged",
        "final_confidence": 0.45,
        "attempts": 1,
        "actions": [{"type": "flag", "rule": "low", "outcome": "flagged"}],
        "review_id": None,
        "run_id": "r1",
        "policy": "p",
    }
    assert result.to_dict()["summary"] == summary
