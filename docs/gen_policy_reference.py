"""Write docs/reference/policy.md, the policy language reference, from the policy JSON Schema.

The schema (``guardrail policy schema``, ``policies/policy.schema.json``) gives every key, the
forms it accepts and its default; this script adds one example per condition and per action
(each checked by ``tests/test_docs.py`` by loading it as a policy) and refuses to write a page
where a condition or action of the schema has no example.

    python docs/gen_policy_reference.py          # rewrite the page
    python docs/gen_policy_reference.py --check  # exit 1 when the page is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parent / "reference" / "policy.md"

Schema = Mapping[str, Any]

CONDITIONS: dict[str, tuple[str, str]] = {
    "stage": (
        "The checkpoint's stage: `question` (before any answer token), `process` (inside the "
        "answer), `outcome` (the complete answer) or `tool_call` (a model turn's call of a "
        "tool, judged before the tool runs).",
        "{stage: [process, outcome]}",
    ),
    "confidence_below": (
        "The confidence is strictly below the value. `source: revised` (default) reads the "
        "Backward-Confidence-Integration revision, `raw` the scorer's estimate.",
        "{stage: outcome, confidence_below: 0.5}",
    ),
    "confidence_above": (
        "The confidence is strictly above the value (`source` as for `confidence_below`).",
        "{stage: outcome, confidence_above: 0.95}",
    ),
    "calibration_drift": (
        "The live calibration error (ECE over the last decided review items, read by the "
        "runtime's drift monitor) exceeds the 95th percentile of a calibrated scorer's error at "
        "the same confidences by more than `margin`, over at least `min_items` items. Without "
        "a reading, or with too few items, it does not hold and its reason says why.",
        "{stage: outcome, calibration_drift: {margin: 0.02, min_items: 50}}",
    ),
    "tool": (
        "At a `tool_call` checkpoint, the called tool's name matches a glob (or one of a "
        "list); never holds at an answer's checkpoints.",
        '{stage: tool_call, tool: [send_email, "delete_*"], confidence_below: 0.8}',
    ),
    "drop_from_max": (
        "The confidence fell at least `delta` below the highest of this answer's earlier "
        "process and outcome checkpoints.",
        "{stage: process, drop_from_max: {delta: 0.25, source: raw}}",
    ),
    "consecutive_low": (
        "The last `count` checkpoints of the answer, this one included, were all below `below`.",
        "{stage: process, consecutive_low: {count: 2, below: 0.3}}",
    ),
    "min_tokens": (
        "At least this many answer tokens had been seen when the checkpoint was scored.",
        "{stage: process, min_tokens: 40, confidence_below: 0.3}",
    ),
    "min_fraction_seen": (
        "At least this fraction of the call's `max_tokens` had been seen (the outcome counts "
        "as 1.0; without a known `max_tokens` only the outcome matches).",
        "{min_fraction_seen: 0.5, confidence_below: 0.3}",
    ),
    "attempt": (
        "The attempt number (1 for the first generation, 2 for the first retry or "
        "escalation, ...) equals the value, or lies in `[min, max]`.",
        "{attempt: {min: 2}, stage: outcome, confidence_below: 0.5}",
    ),
    "model": (
        "The guarded model's name matches a glob (case-sensitive), or one of a list.",
        '{model: ["gpt-4o*", "openai/*"], confidence_below: 0.4}',
    ),
    "tags": (
        "The run's tags: a tag or list of tags that must all be present, or a mapping "
        "`{all_of, any_of, none_of}`.",
        "{tags: {any_of: [billing, refunds], none_of: [internal]}}",
    ),
    "metadata": (
        "Each named run metadata value equals the given one, or is one of a list.",
        "{metadata: {tenant: acme, tier: [gold, silver]}, confidence_below: 0.6}",
    ),
    "scorer_mismatch": (
        "`true`: the guarded model is not among the generators the scorer was trained or "
        "calibrated on (its card says so); `false`: it is. When the card cannot tell, neither "
        "matches.",
        "{scorer_mismatch: true, stage: outcome}",
    ),
    "all": (
        "Every sub-condition holds.",
        "{all: [{stage: process}, {confidence_below: 0.3}]}",
    ),
    "any": (
        "At least one sub-condition holds.",
        "{any: [{confidence_below: 0.2}, {drop_from_max: 0.4}]}",
    ),
    "not": (
        "The sub-condition does not hold.",
        "{stage: outcome, not: {tags: trusted}, confidence_below: 0.7}",
    ),
}
"""Per condition key of the schema: what it means, and a ``when:`` mapping that uses it."""

ACTIONS: dict[str, str] = {
    "abort": '{type: abort, message: "Not confident enough.", fallback_answer: "I am not sure."}',
    "retry": (
        "{type: retry, max_attempts: 2, temperature: 0.3, backoff: {initial_s: 0.5, max_s: 4.0},"
        " on_exhausted: {type: escalate, targets: [openai/gpt-4o]}}"
    ),
    "escalate": (
        "{type: escalate, targets: [openai/gpt-4o-mini, openai/gpt-4o],"
        " on_exhausted: {type: human_review, mode: provisional}}"
    ),
    "self_correct": (
        "{type: self_correct, max_rounds: 1, feedback_template:"
        ' "Check this part again: {least_confident_span}\\n\\nQuestion: {question}"}'
    ),
    "human_review": "{type: human_review, queue: billing, mode: blocking}",
    "flag": "{type: flag, label: doubtful-question, severity: warning}",
    "continue": "{type: continue}",
}
"""Per action type of the schema: an ``action:`` mapping that uses it."""


def load_schema() -> dict[str, Any]:
    """The policy JSON Schema, as ``guardrail policy schema`` prints it."""
    from guardrail.policy import schema_json

    schema: dict[str, Any] = json.loads(schema_json())
    return schema


def plain(text: str) -> str:
    """A docstring's text as Markdown: double backticks become single, lines are joined."""
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    return "\n\n".join(" ".join(part.split()) for part in text.split("\n\n"))


def ref_name(node: Schema) -> str | None:
    """The ``$defs`` name a ``$ref`` node points at."""
    ref = node.get("$ref")
    return None if ref is None else str(ref).rsplit("/", 1)[-1]


def bounds(node: Schema) -> str:
    """``min <= x <= max``-style bounds of a number, or ``""``."""
    parts = []
    if "minimum" in node:
        parts.append(f">= {node['minimum']}")
    if "exclusiveMinimum" in node:
        parts.append(f"> {node['exclusiveMinimum']}")
    if "maximum" in node:
        parts.append(f"<= {node['maximum']}")
    return f" ({', '.join(parts)})" if parts else ""


SECTIONS = {
    "ScorerSettings": "#scorersettings",
    "CheckpointSettings": "#checkpointsettings",
    "BCISettings": "#bcisettings",
    "AuditSettings": "#auditsettings",
    "Backoff": "#backoff-of-retry",
    "Rule": "#rules",
    "Condition": "#conditions",
}
"""The sections of the page that describe a ``$defs`` model, by name (anchors are checked by
the strict build)."""


def model_link(name: str) -> str:
    """``name`` as code, linked to its section when the page has one."""
    anchor = SECTIONS.get(name)
    return f"[`{name}`]({anchor})" if anchor else f"`{name}`"


def accepts(node: Schema) -> str:
    """What a schema node accepts, in words."""
    if (name := ref_name(node)) is not None:
        return f"{'an' if name[0] in 'AEIOU' else 'a'} {model_link(name)} mapping"
    if "discriminator" in node:
        mapping = node["discriminator"]["mapping"]
        kinds = ", ".join(f"`{kind}`" for kind in mapping)
        where = "[actions](#actions)" if "continue" in mapping else "the strategies below"
        return f"a mapping chosen by `type` ({kinds}; see {where})"
    if "anyOf" in node:
        forms = [accepts(branch) for branch in node["anyOf"] if branch.get("type") != "null"]
        return " or ".join(forms)
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{value}`" for value in node["enum"])
    return _typed(node)


def _typed(node: Schema) -> str:
    kind = node.get("type")
    if kind == "array":
        items = node["items"]
        if "enum" in items:
            return "a list of " + ", ".join(f"`{value}`" for value in items["enum"])
        if (name := ref_name(items)) is not None:
            return f"a list of {model_link(name)} mappings"
        return f"a list of {accepts(items)}"
    if kind == "object":
        values = node.get("additionalProperties")
        return "a mapping" if not isinstance(values, dict) else f"a mapping to {accepts(values)}"
    if kind == "boolean":
        return "`true` or `false`"
    if kind == "string":
        return "a string" + (f" matching `{node['pattern']}`" if "pattern" in node else "")
    if kind in ("number", "integer"):
        return f"{'an integer' if kind == 'integer' else 'a number'}{bounds(node)}"
    raise ValueError(f"the policy schema has a node this page cannot describe: {dict(node)}")


def default_of(node: Schema, required: bool) -> str:
    """The default a field takes when left out, as a table cell."""
    if required:
        return "required"
    if "default" not in node:
        return "optional"
    value = node["default"]
    if value is None:
        return "not set"
    text = json.dumps(value)
    return f"`{text}`" if len(text) <= 40 else "(long text, see the model)"


def field_table(model: Schema) -> list[str]:
    """A table of a model's fields: key, what it accepts, default."""
    rows = ["| key | accepts | default |", "| --- | --- | --- |"]
    required = set(model.get("required", ()))
    for key, node in model["properties"].items():
        cell = accepts(node).replace("|", "\\|")
        rows.append(f"| `{key}` | {cell} | {default_of(node, key in required)} |")
    return rows


def section(title: str, model: Schema, level: str = "###") -> list[str]:
    """A heading, the model's description and its field table."""
    lines = [f"{level} {title}", ""]
    if model.get("description"):
        lines += [plain(model["description"]), ""]
    return [*lines, *field_table(model), ""]


def yaml_block(text: str) -> list[str]:
    """A fenced YAML block."""
    return ["```yaml", *text.splitlines(), "```", ""]


def rule_yaml(when: str, action: str) -> str:
    """A one-rule policy document using ``when`` and ``action`` (flow-style YAML mappings)."""
    return f"rules:\n  - name: example\n    when: {when}\n    action: {action}\n"


def action_types(schema: Schema) -> list[str]:
    """Every action ``type`` of the rule's ``action`` union, in the schema's order."""
    union = schema["$defs"]["Rule"]["properties"]["action"]["anyOf"]
    mapping = next(branch for branch in union if "discriminator" in branch)
    return list(mapping["discriminator"]["mapping"])


def check_examples(schema: Schema) -> None:
    """Fail, naming them, where a condition or action of the schema has no example here."""
    conditions = set(schema["$defs"]["Condition"]["properties"])
    actions = set(action_types(schema))
    missing = sorted(conditions - set(CONDITIONS)) + sorted(actions - set(ACTIONS))
    extra = sorted(set(CONDITIONS) - conditions) + sorted(set(ACTIONS) - actions)
    if missing or extra:
        raise SystemExit(
            f"docs/gen_policy_reference.py: no example for {missing}; not in the schema: {extra}"
        )


def condition_section(schema: Schema, key: str) -> list[str]:
    """One condition key: what it accepts, what it means, its sub-mapping and an example."""
    defs = schema["$defs"]
    node = schema["$defs"]["Condition"]["properties"][key]
    meaning, example = CONDITIONS[key]
    lines = [f"### `{key}`", "", f"Accepts {accepts(node)}. {meaning}", ""]
    branches = node.get("anyOf", [node])
    for name in (ref_name(branch) for branch in branches):
        if name is not None and name != "Condition":
            lines += [f"The `{name}` mapping:", "", *field_table(defs[name]), ""]
    return [*lines, *yaml_block(rule_yaml(example, "flag"))]


def action_section(schema: Schema, kind: str) -> list[str]:
    """One action type: its description, fields and an example."""
    union = schema["$defs"]["Rule"]["properties"]["action"]["anyOf"]
    mapping = next(branch for branch in union if "discriminator" in branch)["discriminator"]
    model = schema["$defs"][str(mapping["mapping"][kind]).rsplit("/", 1)[-1]]
    example = rule_yaml("{stage: outcome, confidence_below: 0.5}", ACTIONS[kind])
    return [*section(f"`{kind}`", model), *yaml_block(example)]


INTRO = """\
# Policy language reference

<!-- Generated by docs/gen_policy_reference.py from the policy JSON Schema: do not edit. -->

A policy is a YAML (or JSON) document: which scorer to run, where to take checkpoints, and an
ordered list of rules. At each checkpoint the rules are tried in order and the first whose
`when:` holds decides its `action:`; when none holds, `default_action` does. Every mapping is
strict: an unknown or misspelled key is an error that names the file, line, column and key
(with a did-you-mean). Check a file with `guardrail policy validate FILE`, see what it does
with `guardrail policy explain FILE`, and print the schema with `guardrail policy schema` (the
presets start with `# yaml-language-server: $schema=./policy.schema.json`, which gives editors
completion). [Writing a policy](../policies.md) walks through one; this page lists every key.

Short forms: a condition key takes a scalar where its mapping has one required field
(`confidence_below: 0.3` is `{value: 0.3, source: revised}`), and an action may be written as
its bare type (`action: abort`) to take every default.
"""


def render(schema: Schema | None = None) -> str:
    """The reference page for ``schema`` (default: the installed policy schema)."""
    schema = load_schema() if schema is None else schema
    check_examples(schema)
    defs = schema["$defs"]
    lines = [INTRO]
    lines += section("The document", schema, level="##")
    lines += ["## Settings", ""]
    for name in ("ScorerSettings", "CheckpointSettings", "BCISettings", "AuditSettings"):
        lines += section(f"`{name}`", defs[name])
    strategies = defs["CheckpointSettings"]["properties"]["strategies"]["items"]
    for kind, ref in strategies["discriminator"]["mapping"].items():
        lines += section(f"Checkpoint strategy `{kind}`", defs[ref.rsplit("/", 1)[-1]])
    lines += section("`Backoff` (of `retry`)", defs["Backoff"])
    lines += section("Rules", defs["Rule"], level="##")
    lines += [
        "## Conditions",
        "",
        "`when:` is a mapping of at least one key; every key present must hold.",
        "",
    ]
    for key in defs["Condition"]["properties"]:
        lines += condition_section(schema, key)
    lines += [
        "## Actions",
        "",
        "`retry` and `escalate` take `on_exhausted`, the action decided once they are used up "
        "(itself any action but the one it belongs to).",
        "",
    ]
    for kind in action_types(schema):
        lines += action_section(schema, kind)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is out of date: run python docs/gen_policy_reference.py")
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
