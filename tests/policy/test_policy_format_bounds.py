"""``feedback_template`` format specs are bounded before anything is rendered."""

from __future__ import annotations

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.policy import Policy


def _policy(template: str) -> Policy:
    action = {"type": "self_correct", "feedback_template": template}
    rule = {"name": "r", "when": {"confidence_below": 0.5}, "action": action}
    return Policy.from_dict({"rules": [rule]})


@pytest.mark.parametrize(
    "template",
    [
        "{question:>40000000000}",  # would need 40 GB: MemoryError before the bound
        "{answer:>300000000}",  # 300 MB
        "{confidence:.100000f}",
        "{question:{answer}}",  # nested field
    ],
)
def test_huge_or_nested_format_specs_are_config_errors(template: str) -> None:
    with pytest.raises(GuardrailConfigError, match="feedback_template"):
        _policy(template)


@pytest.mark.parametrize("template", ["{question:>1000}", "{confidence:.2f}", "{answer:_<20}"])
def test_reasonable_format_specs_pass(template: str) -> None:
    _policy(template)
