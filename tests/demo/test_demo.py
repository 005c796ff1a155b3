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


ESCALATE_POLICY = """
name: demo-escalate
checkpoints: {strategies: [{type: paragraph}], min_gap: 0, score_question: false}
rules:
  - name: weak
    when: {stage: process, confidence_below: 0.5}
    action: {type: escalate, targets: [fallback-model]}
default_action: continue
"""


def test_the_demo_says_plainly_when_the_fallback_is_the_same_model(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import guardrail.demo.run as demo_run

    monkeypatch.setattr(demo_run, "_converted", lambda ref: False)
    buffer = io.StringIO()
    run_demo(
        questions=[DemoQuestion("What is 2 + 2?", "4")],
        scorer=ScriptedScorer(lambda question, answer: 0.95),
        chat_model=fake_model(),
        state_dir=tmp_path / "state",
        terminal=Terminal(buffer, color=False),
    )
    text = buffer.getvalue()
    assert "the SAME model (builtin:smollm2-135m-instruct)" in text
    assert "--fallback-model builtin:gemma3-270m" in text


def test_escalation_goes_to_a_different_fallback_and_warnings_become_notes(
    tmp_path: Path,
) -> None:
    import warnings

    from guardrail.testing import FakeStreamingChatModel

    policy = tmp_path / "escalate.yaml"
    policy.write_text(ESCALATE_POLICY, encoding="utf-8")
    other = FakeStreamingChatModel(responses=["4.\nAnswer: 4"], when_exhausted="cycle", model="b")

    def confidence(question: str, answer: str) -> float:
        if answer.startswith("2 + 2"):
            warnings.warn("the scorer was not trained on this model", UserWarning, stacklevel=1)
            return 0.2
        return 0.9

    buffer = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escaped the demo would fail here
        rows = run_demo(
            questions=[DemoQuestion("What is 2 + 2?", "4")],
            policy=str(policy),
            scorer=ScriptedScorer(confidence),
            chat_model=fake_model(),
            fallback_ref="builtin:gemma3-270m",
            fallback_model=other,
            state_dir=tmp_path / "state",
            terminal=Terminal(buffer, color=False),
        )
    text = buffer.getvalue()
    assert "fallback-model: builtin:gemma3-270m, a different model" in text
    assert rows[0].actions == ("escalate",)
    assert rows[0].correct
    assert text.count("note: the scorer was not trained on this model") == 1
    assert "UserWarning" not in text
