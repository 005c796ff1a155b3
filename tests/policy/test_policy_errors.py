"""Invalid policies: one GuardrailConfigError naming file, line, column, key, expectation."""

import textwrap

import pytest

from guardrail.errors import ConfigIssue, GuardrailConfigError
from guardrail.policy import Policy

RULE = """\
version: 1
name: t
rules:
  - name: r
    when:
      {when}
    action:
      {action}
"""


def _issues(text: str) -> tuple[ConfigIssue, ...]:
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_text(text, source="bad.yaml")
    return info.value.issues


def _rule(when: str = "stage: process", action: str = "type: continue") -> str:
    return RULE.format(when=when, action=action)


@pytest.mark.parametrize(
    ("text", "key_path", "line", "column", "expected", "suggestion"),
    [
        # misspelled keys: the key itself is located, the closest valid key suggested
        ("nmae: x\n", "nmae", 1, 1, "one of version, name", "name"),
        ("scorer: {modle: x}\n", "scorer.modle", 1, 10, "one of model, device", "model"),
        (
            _rule(when="confidence_blow: 0.3"),
            "rules[0].when.confidence_blow",
            6,
            7,
            None,
            "confidence_below",
        ),
        (
            _rule(action="type: retry\n      max_attemps: 2"),
            "rules[0].action.max_attemps",
            9,
            7,
            "max_attempts",
            "max_attempts",
        ),
        (
            _rule(when="consecutive_low: {count: 2, belwo: 0.3}"),
            "rules[0].when.consecutive_low.belwo",
            6,
            35,
            "below",
            "below",
        ),
        ("checkpoints: {min_gpa: 3}\n", "checkpoints.min_gpa", 1, 15, "min_gap", "min_gap"),
        ("bci: {alpah: 0.3}\n", "bci.alpah", 1, 7, "alpha", "alpha"),
        # misspelled action and trigger types
        (_rule(action="type: escalte"), "rules[0].action.type", 8, 13, "escalate", "escalate"),
        (_rule(action="type: retyr"), "rules[0].action.type", 8, 13, "retry", "retry"),
        ("default_action: contineu\n", "default_action", 1, 17, "continue", "continue"),
        (
            "checkpoints: {strategies: [{type: paragrph}]}\n",
            "checkpoints.strategies[0].type",
            1,
            35,
            "paragraph",
            "paragraph",
        ),
        # misspelled literal values
        (_rule(when="stage: proces"), "rules[0].when.stage", 6, 14, "'outcome'", "process"),
        ("on_error: fail_opn\n", "on_error", 1, 11, "'fail_open'", "fail_open"),
        (
            _rule(action="{type: human_review, mode: provisonal}"),
            "rules[0].action.mode",
            8,
            34,
            "'blocking'",
            "provisional",
        ),
        # thresholds: NaN, outside [0, 1], strings
        (
            _rule(when="confidence_below: .nan"),
            "rules[0].when.confidence_below",
            6,
            25,
            "finite",
            None,
        ),
        (
            _rule(when="confidence_above: 1.5"),
            "rules[0].when.confidence_above",
            6,
            25,
            "<= 1",
            None,
        ),
        (
            _rule(when="confidence_below: {value: -0.1, source: raw}"),
            "rules[0].when.confidence_below.value",
            6,
            33,
            ">= 0",
            None,
        ),
        (_rule(when="drop_from_max: 0"), "rules[0].when.drop_from_max", 6, 22, "> 0", None),
        (
            _rule(when="confidence_below: yes"),
            "rules[0].when.confidence_below",
            6,
            25,
            "a number in [0, 1]",
            None,
        ),
        (
            _rule(when="confidence_below:"),
            "rules[0].when.confidence_below",
            6,
            24,
            "a number in [0, 1]",
            None,
        ),
        (
            _rule(when="min_fraction_seen: 2"),
            "rules[0].when.min_fraction_seen",
            6,
            26,
            "<= 1",
            None,
        ),
        ("bci: {alpha: .inf}\n", "bci.alpha", 1, 14, None, None),
        # counts and limits
        (
            _rule(action="{type: retry, max_attempts: 0}"),
            "rules[0].action.max_attempts",
            8,
            35,
            ">= 1",
            None,
        ),
        (
            _rule(action="{type: retry, backoff: {initial_s: 5, max_s: 1}}"),
            "rules[0].action.backoff",
            8,
            30,
            "max_s >= initial_s",
            None,
        ),
        (
            _rule(action="{type: retry, temperature: 3}"),
            "rules[0].action.temperature",
            8,
            34,
            "<= 2",
            None,
        ),
        (
            _rule(when="consecutive_low: {count: 0, below: 0.3}"),
            "rules[0].when.consecutive_low.count",
            6,
            32,
            ">= 1",
            None,
        ),
        (_rule(when="attempt: 0"), "rules[0].when.attempt", 6, 16, ">= 1", None),
        (_rule(when="attempt: {min: 3, max: 2}"), "rules[0].when.attempt", 6, 16, None, None),
        # escalate targets
        (
            _rule(action="{type: escalate, targets: []}"),
            "rules[0].action.targets",
            8,
            33,
            "at least 1",
            None,
        ),
        (_rule(action="{type: escalate}"), "rules[0].action.targets", 8, 7, "'targets'", None),
        (
            _rule(action="{type: escalate, targets: [a, b, a]}"),
            "rules[0].action.targets[2]",
            8,
            40,
            None,
            None,
        ),
        # templates
        (
            _rule(action="{type: self_correct, feedback_template: 'fix {anwser}'}"),
            "rules[0].action.feedback_template",
            8,
            47,
            "{least_confident_span}",
            "{answer}",
        ),
        (
            _rule(action="{type: self_correct, feedback_template: 'fix {answer.x}'}"),
            "rules[0].action.feedback_template",
            8,
            47,
            "{question}",
            "{answer}",
        ),
        (
            _rule(action="{type: self_correct, feedback_template: 'fix {'}"),
            "rules[0].action.feedback_template",
            8,
            47,
            "doubled",
            None,
        ),
        (
            _rule(action="{type: self_correct, feedback_template: '{answer:.2f}'}"),
            "rules[0].action.feedback_template",
            8,
            47,
            "format specs",
            None,
        ),
        # structure
        (_rule(when="{}"), "rules[0].when", 6, 7, "one of all, any", None),
        (_rule(when="tags: {}"), "rules[0].when.tags", 6, 13, "a list of tags", None),
        ("rules: {name: r}\n", "rules", 1, 8, "a list", None),
        (
            "rules:\n  - when: {stage: process}\n    action: abort\n",
            "rules[0].name",
            2,
            5,
            "'name'",
            None,
        ),
        (
            "rules:\n  - {name: 'bad name', when: {stage: process}, action: abort}\n",
            "rules[0].name",
            2,
            12,
            None,
            None,
        ),
        ("version: 2\n", "version", 1, 10, "1", None),
        ("version: true\n", "version", 1, 10, "1", None),
        ("scorer: {device: gpu}\n", "scorer.device", 1, 18, None, None),
        (
            _rule(action="{type: retry, on_exhausted: {type: retry}}"),
            "rules[0].action.on_exhausted.type",
            8,
            42,
            "escalate",
            None,
        ),
    ],
)
def test_invalid_policy_is_located(
    text: str,
    key_path: str,
    line: int,
    column: int,
    expected: str | None,
    suggestion: str | None,
) -> None:
    issues = _issues(text)
    matching = [i for i in issues if i.key_path == key_path]
    assert matching, "\n".join(i.format() for i in issues)
    issue = matching[0]
    assert (issue.line, issue.column) == (line, column), issue.format()
    assert issue.source == "bad.yaml"
    if expected is not None:
        assert issue.expected is not None
        assert expected in issue.expected, issue.format()
    assert issue.suggestion == suggestion, issue.format()


def test_all_problems_are_reported_at_once_in_document_order() -> None:
    # the duplicate rule name is only checked once every rule is valid on its own
    text = textwrap.dedent(
        """\
        version: 1
        nmae: x
        rules:
          - name: a
            when: {stage: proces}
            action: {type: escalte}
          - name: a
            when: {confidence_below: 2}
            action: abort
        """
    )
    issues = _issues(text)
    assert [(i.line, i.key_path) for i in issues] == [
        (2, "nmae"),
        (5, "rules[0].when.stage"),
        (6, "rules[0].action.type"),
        (8, "rules[1].when.confidence_below"),
    ]


def test_duplicate_rule_names_point_at_the_second_rule() -> None:
    text = _rule() + "  - name: r\n    when: {stage: outcome}\n    action: flag\n"
    (issue,) = _issues(text)
    assert (issue.key_path, issue.line) == ("rules[1].name", 9)
    assert "already used by rules[0]" in issue.message


def test_error_text_names_file_line_key_expectation_and_suggestion() -> None:
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_text(_rule(action="type: escalte"), source="bad.yaml")
    assert str(info.value) == (
        "bad.yaml:8:13: rules[0].action.type: unknown type 'escalte' (expected type one of "
        "abort, retry, escalate, self_correct, human_review, flag, continue; "
        "did you mean 'escalate'?)"
    )


def test_from_dict_errors_have_key_paths_without_lines() -> None:
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_dict({"rules": [{"name": "r", "when": {"stage": "x"}, "action": "abort"}]})
    (issue,) = info.value.issues
    assert (issue.key_path, issue.line, issue.source) == ("rules[0].when.stage", None, None)
