"""The demo end to end: a real LangChain chain under a real policy, with a scripted scorer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from guardrail.demo import DemoQuestion, run_demo
from guardrail.demo.terminal import Terminal
from guardrail.testing import ScriptedScorer

ANSWER = "2 + 2 = 4.\nAnswer: 4"


def fake_model() -> Any:
    from guardrail.testing import FakeStreamingChatModel

    return FakeStreamingChatModel(responses=[ANSWER], when_exhausted="cycle", model="fake")


def test_low_outcome_confidence_goes_to_review(tmp_path: Path) -> None:
    buffer = io.StringIO()
    scorer = ScriptedScorer(lambda question, answer: 0.9 if answer == "" else 0.3)
    rows = run_demo(
        questions=[DemoQuestion("What is 2 + 2?", "4")],
        scorer=scorer,
        chat_model=fake_model(),
        max_tokens=12,
        state_dir=tmp_path / "state",
        terminal=Terminal(buffer, color=False),
    )
    (row,) = rows
    assert row.status == "pending_review"
    assert "human_review" in row.actions
    assert row.review_id
    text = buffer.getvalue()
    assert "[question:question 0.90" in text
    assert "[outcome:outcome 0.30" in text
    assert "sent to review" in text
    from guardrail.review import SQLiteReviewQueue

    queue = SQLiteReviewQueue(tmp_path / "state" / "review.db")
    try:
        assert queue.get(row.review_id).question == "What is 2 + 2?"
    finally:
        queue.close()


def test_confident_answers_pass_untouched(tmp_path: Path) -> None:
    buffer = io.StringIO()
    rows = run_demo(
        questions=[DemoQuestion("What is 2 + 2?", "4")],
        scorer=ScriptedScorer(lambda question, answer: 0.95),
        chat_model=fake_model(),
        max_tokens=8,
        state_dir=tmp_path / "state",
        terminal=Terminal(buffer, color=False),
    )
    assert rows[0].status == "ok"
    assert rows[0].actions == ()
    assert "ok" in buffer.getvalue()
