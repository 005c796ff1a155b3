"""Property tests: generated policies load, decide deterministically, and break loudly."""

import copy
import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import Policy, PolicyEngine, RunContext
from guardrail.policy.conditions import Facts, evaluate

try:  # a dependency of the dev extras; the schema check is skipped without it
    import jsonschema  # type: ignore[import-untyped]

    SCHEMA_VALIDATOR: Any = jsonschema.Draft202012Validator(Policy.json_schema())
except ImportError:  # pragma: no cover
    SCHEMA_VALIDATOR = None

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

STAGES = ["question", "process", "outcome"]
TAGS = ["math", "graded", "prod"]
probabilities = st.floats(0.0, 1.0, allow_nan=False)
sources = st.sampled_from(["raw", "revised"])


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    return merged


atoms = st.one_of(
    st.one_of(
        st.sampled_from(STAGES), st.lists(st.sampled_from(STAGES), min_size=1, max_size=3)
    ).map(lambda s: {"stage": s}),
    probabilities.map(lambda v: {"confidence_below": v}),
    st.fixed_dictionaries({"value": probabilities, "source": sources}).map(
        lambda d: {"confidence_above": d}
    ),
    st.floats(0.01, 1.0).map(lambda d: {"drop_from_max": d}),
    st.fixed_dictionaries({"count": st.integers(1, 4), "below": probabilities}).map(
        lambda d: {"consecutive_low": d}
    ),
    st.integers(0, 100).map(lambda n: {"min_tokens": n}),
    probabilities.map(lambda f: {"min_fraction_seen": f}),
    st.integers(1, 4).map(lambda n: {"attempt": n}),
    st.sampled_from(["m*", "big", "small*"]).map(lambda g: {"model": g}),
    st.lists(st.sampled_from(TAGS), min_size=1, max_size=2).map(lambda t: {"tags": t}),
    st.sampled_from(["a", "b"]).map(lambda v: {"metadata": {"k": v}}),
)

conditions = st.recursive(
    st.lists(atoms, min_size=1, max_size=3).map(_merge),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
        inner.map(lambda c: {"not": c}),
    ),
    max_leaves=6,
)

actions = st.one_of(
    st.sampled_from(["continue", "flag", "abort", "human_review", "self_correct"]),
    st.fixed_dictionaries(
        {"type": st.just("retry"), "max_attempts": st.integers(1, 3)},
        optional={"temperature": st.floats(0.0, 2.0), "on_exhausted": st.just("flag")},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("escalate"),
            "targets": st.lists(st.sampled_from(["small", "mid", "big"]), min_size=1, unique=True),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("self_correct"),
            "feedback_template": st.sampled_from(
                ["{question} {answer}", "c={confidence:.3f}", "span: {least_confident_span}"]
            ),
        }
    ),
)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    rules = draw(st.lists(st.tuples(conditions, actions), min_size=1, max_size=5))
    return {
        "version": 1,
        "name": "generated",
        "on_error": draw(st.sampled_from(["fail_closed", "fail_open"])),
        "rules": [{"name": f"r{i}", "when": w, "action": a} for i, (w, a) in enumerate(rules)],
        "default_action": draw(actions),
    }


def _event(index: int, stage: str, confidence: float, revised: float) -> CheckpointEvent:
    return CheckpointEvent(index, Stage(stage), "gen", index * 7, 0, 0, confidence, revised)


@st.composite
def situations(draw: st.DrawFn) -> tuple[CheckpointEvent, list[CheckpointEvent], RunContext]:
    size = draw(st.integers(0, 5))
    history = [
        _event(i, "question" if i == 0 else "process", draw(probabilities), draw(probabilities))
        for i in range(size)
    ]
    stage = "question" if size == 0 else draw(st.sampled_from(["process", "outcome"]))
    current = _event(size, stage, draw(probabilities), draw(probabilities))
    context = RunContext(
        attempt=draw(st.integers(1, 4)),
        model=draw(st.sampled_from(["small", "mid", "big", "m1"])),
        tags=frozenset(draw(st.lists(st.sampled_from(TAGS), max_size=3))),
        metadata={"k": draw(st.sampled_from(["a", "b"]))},
        max_tokens=draw(st.one_of(st.none(), st.integers(1, 200))),
    )
    return current, history, context


@PROPERTY_SETTINGS
@given(data=policies())
def test_generated_policies_load_the_same_from_yaml_and_python(data: dict[str, Any]) -> None:
    from_dict = Policy.from_dict(data)
    assert Policy.from_text(yaml.safe_dump(data, sort_keys=False)) == from_dict
    if SCHEMA_VALIDATOR is not None:  # editors accept what the loader accepts
        assert not list(SCHEMA_VALIDATOR.iter_errors(data))
    assert Policy.from_dict(from_dict.model_dump(mode="json")) == from_dict


@PROPERTY_SETTINGS
@given(data=policies(), situation=situations(), order=st.randoms(use_true_random=False))
def test_decisions_are_deterministic_and_first_match_wins(
    data: dict[str, Any],
    situation: tuple[CheckpointEvent, list[CheckpointEvent], RunContext],
    order: Any,
) -> None:
    current, history, context = situation
    policy = Policy.from_dict(data)
    first = PolicyEngine(policy).evaluate(current, context, history)
    again = PolicyEngine(Policy.from_dict(copy.deepcopy(data))).evaluate(current, context, history)
    shuffled = list(history)
    order.shuffle(shuffled)
    reordered = PolicyEngine(policy).evaluate(current, context, shuffled)
    assert first.to_dict() == again.to_dict() == reordered.to_dict()

    facts = Facts(event=current, history=tuple(history), context=context)
    matching = [rule.name for rule in policy.rules if evaluate(rule.when, facts).holds]
    assert first.rule == (matching[0] if matching else None)
    assert first.reasons
    assert first.failure_mode is None


# ------------------------------------------------------------------ invalid documents
def _key_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if path[-1:] != ("metadata",):  # metadata keys are free-form
                found.append((*path, key))
            found.extend(_key_paths(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_key_paths(value, (*path, index)))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _misspell_key(data: dict[str, Any], draw: st.DrawFn) -> None:
    path = draw(st.sampled_from(_key_paths(data)))
    parent = _parent(data, path)
    parent[path[-1] + draw(st.sampled_from(["x", "_", "s"]))] = parent.pop(path[-1])


def _bad_threshold(data: dict[str, Any], draw: st.DrawFn) -> None:
    rule = draw(st.sampled_from(data["rules"]))
    bad = draw(st.sampled_from([math.nan, -0.01, 1.01, 7.0, math.inf, "0.5", True]))
    rule["when"] = {**rule["when"], "confidence_below": bad}


def _bad_retry(data: dict[str, Any], draw: st.DrawFn) -> None:
    rule = draw(st.sampled_from(data["rules"]))
    rule["action"] = {"type": "retry", "max_attempts": draw(st.integers(-5, 0))}


def _bad_action_type(data: dict[str, Any], draw: st.DrawFn) -> None:
    rule = draw(st.sampled_from(data["rules"]))
    kind = draw(st.sampled_from(["escalte", "retyr", "stop", "review", "Continue"]))
    rule["action"] = {"type": kind}


def _bad_placeholder(data: dict[str, Any], draw: st.DrawFn) -> None:
    rule = draw(st.sampled_from(data["rules"]))
    name = draw(st.sampled_from(["questoin", "answr", "span", "x", "0", "confidence.real"]))
    rule["action"] = {"type": "self_correct", "feedback_template": f"fix {{{name}}}"}


def _bad_stage(data: dict[str, Any], draw: st.DrawFn) -> None:
    rule = draw(st.sampled_from(data["rules"]))
    rule["when"] = {**rule["when"], "stage": draw(st.sampled_from(["proces", "final", "", 3]))}


MUTATIONS = [_misspell_key, _bad_threshold, _bad_retry, _bad_action_type, _bad_placeholder]
MUTATIONS.append(_bad_stage)


@PROPERTY_SETTINGS
@given(data=policies(), mutate=st.sampled_from(MUTATIONS), draws=st.data())
def test_every_invalid_document_is_a_located_config_error(
    data: dict[str, Any], mutate: Any, draws: st.DataObject
) -> None:
    mutate(data, draws.draw)
    text = yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_text(text, source="gen.yaml")
    assert info.value.issues
    for issue in info.value.issues:
        assert issue.source == "gen.yaml"
        assert issue.line is not None
        assert issue.column is not None
        assert issue.key_path, issue.format()


@PROPERTY_SETTINGS
@given(data=policies(), draws=st.data())
def test_duplicate_keys_are_located(data: dict[str, Any], draws: st.DataObject) -> None:
    text = yaml.safe_dump(data, sort_keys=False)
    lines = text.splitlines()
    top_level = [i for i, line in enumerate(lines) if line and line[0] not in " -"]
    index = draws.draw(st.sampled_from(top_level))
    key = lines[index].split(":", 1)[0]
    text += f"{key}: duplicate\n"
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_text(text)
    issue = info.value.issues[0]
    assert issue.line == len(lines) + 1
    assert issue.key_path == key
    assert "duplicate key" in issue.message


YAMLISH = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            "]",
            ":",
            ": ",
            "-",
            "- ",
            "&a ",
            "*a",
            "<<: ",
            "\n",
            "  ",
            "name",
            "rules",
            "when",
            "action",
            "type",
            "'",
            '"',
            "!!",
            "!!str ",
            ",",
            "? ",
            "#",
            "0.5",
            "null",
            ".nan",
            "version: 1\n",
            "---\n",
            "\t",
            "|",
            ">",
            "%YAML 1.1\n",
            "\\",
            "é",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), YAMLISH))
def test_garbage_never_crashes(garbage: str | bytes) -> None:
    result = _load(garbage)
    if isinstance(result, GuardrailConfigError):
        assert result.issues
        assert all(issue.message for issue in result.issues)
    else:
        assert isinstance(result, Policy)


def _load(text: str | bytes) -> Policy | GuardrailConfigError:
    try:
        return Policy.from_text(text)
    except GuardrailConfigError as exc:
        return exc
