"""A feedback template cannot turn a long answer into a huge prompt."""

from __future__ import annotations

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.policy import Policy
from guardrail.policy.actions import MAX_FIELD_CHARS, MAX_TEXT_FIELDS, SelfCorrectAction


def _policy(template: str) -> Policy:
    action = {"type": "self_correct", "feedback_template": template}
    rule = {"name": "r", "when": {"confidence_below": 0.5}, "action": action}
    return Policy.from_dict({"rules": [rule]})


def test_thousands_of_answer_fields_are_refused_at_load() -> None:
    with pytest.raises(GuardrailConfigError, match=r"2222 text fields \(\{answer\} 2222 times"):
        _policy("{answer}" * 2222)  # 9 kB of template: a 200 kB answer made 444 MB of prompt


def test_fields_of_every_text_kind_count_together() -> None:
    template = "{question}{answer}{least_confident_span}" * 3
    with pytest.raises(GuardrailConfigError, match=f"at most {MAX_TEXT_FIELDS}"):
        _policy(template)
    _policy("{question} {answer} {least_confident_span} {confidence:.2f}" * 2)  # 6: fine


def test_rendered_feedback_is_bounded_whatever_the_answer() -> None:
    action = SelfCorrectAction(feedback_template="Fix this: {answer}\n" * MAX_TEXT_FIELDS)
    answer = "start " + "x" * 5_000_000 + " end"
    text = action.render(question="q", answer=answer, confidence=0.2, least_confident_span="x")
    assert len(text) <= MAX_TEXT_FIELDS * (MAX_FIELD_CHARS + 100)
    assert text.count("start ") == MAX_TEXT_FIELDS  # the answer's start ...
    assert text.count(" end") == MAX_TEXT_FIELDS  # ... and its end are kept
    assert f"[... {len(answer) - MAX_FIELD_CHARS} characters left out ...]" in text


def test_short_values_render_unchanged() -> None:
    action = SelfCorrectAction(feedback_template="{question}|{answer}|{least_confident_span}")
    text = action.render(question="2+2?", answer="5", confidence=0.1, least_confident_span="5")
    assert text == "2+2?|5|5"
