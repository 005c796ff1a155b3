"""Reading policy documents: garbage never crashes and never loads half a policy."""

from pathlib import Path

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.policy import Policy, RetryAction
from guardrail.policy.loader import MAX_DOCUMENT_BYTES, MAX_NODES, read_text

ALIAS_BOMB = "\n".join(
    [
        "a: &a [x, x, x, x, x, x, x, x, x, x]",
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
    ]
)


def _error(text: str | bytes) -> GuardrailConfigError:
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_text(text, source="p.yaml")
    assert all(issue.source == "p.yaml" for issue in info.value.issues)
    return info.value


@pytest.mark.parametrize(
    ("text", "fragment", "line", "column"),
    [
        ("", "empty", None, None),
        ("  \n# only a comment\n", "empty", None, None),
        ("- a\n- b\n", "mapping at the top level, got list", 1, 1),
        ("just a string", "mapping at the top level, got str", 1, 1),
        ("~", "mapping at the top level, got null", 1, 1),
        ("name: x\x00y", "NUL byte", 1, 8),
        ("name: \x07", "invalid character U+0007", 1, 7),
        ("name: [unclosed", "invalid YAML", 1, 16),
        ("name: a\n  bad: indent\n", "invalid YAML", 2, 6),
        ("a: 1\n---\nb: 2\n", "single document", 2, 1),
        ("version: 1\nname: x\nname: y\n", "duplicate key 'name' (first defined at line 2)", 3, 1),
        ("on: 1\n", "YAML reads yes/no/on/off", 1, 1),
        ("1: 2\n", "keys must be strings, got int", 1, 1),
        ("? [a]\n: 1\n", "not collections", 1, 3),
        ("a: &a [*a]\n", "recursive alias", 1, 4),
        ("a: &a {<<: *a}\n", "recursive alias", 1, 4),
        (ALIAS_BOMB, f"more than {MAX_NODES} values", 1, 32),
        ("a: [" + "1, " * (MAX_NODES + 5) + "]", f"more than {MAX_NODES} values", 1, 59_996),
        ("a: " + "[" * 100 + "]" * 100, "nested deeper", 1, 35),
        ("a: " + "[" * 50_000, "nested deeper", 1, 35),
        ("a: !!python/object:os.system x\n", "could not determine a constructor", 1, 4),
        ("a: !!set {x, y}\n", "unsupported YAML tag", 1, 4),
        ("a: !!int abc\n", "invalid value", 1, 4),
        ("name: !!binary aGk=\n", "valid string, got b'hi'", 1, 7),
    ],
)
def test_garbage_yaml_is_a_located_config_error(
    text: str, fragment: str, line: int | None, column: int | None
) -> None:
    error = _error(text)
    assert fragment in str(error)
    assert (error.issues[0].line, error.issues[0].column) == (line, column)


def test_binary_and_non_utf8_bytes_are_refused() -> None:
    assert "not UTF-8" in str(_error(b"\xff\xfe\xfa\x00"))
    assert "not UTF-8" in str(_error(bytes(range(256))))


def test_utf8_bytes_with_bom_load() -> None:
    policy = Policy.from_text("\ufeffname: bom\n".encode())
    assert policy.name == "bom"


def test_documents_over_one_megabyte_are_refused_before_parsing() -> None:
    padding = "# " + "x" * MAX_DOCUMENT_BYTES + "\n"
    assert "larger than" in str(_error("name: big\n" + padding))
    assert "larger than" in str(_error(("name: big\n" + padding).encode()))
    # multi-byte characters count as bytes, not characters
    assert "larger than" in str(_error("# " + "é" * (MAX_DOCUMENT_BYTES // 2 + 1)))


def test_every_duplicate_key_is_reported() -> None:
    error = _error("name: a\nname: b\nversion: 1\nversion: 1\n")
    assert [(i.line, i.key_path) for i in error.issues] == [(2, "name"), (4, "version")]


def test_merge_keys_and_anchors_are_supported() -> None:
    text = """
rules:
  - name: first
    when: {stage: process}
    action: &retry {type: retry, max_attempts: 3, temperature: 0.2}
  - name: second
    when: {stage: outcome}
    action: {<<: *retry, max_attempts: 1}
"""
    policy = Policy.from_text(text)
    first, second = (rule.action for rule in policy.rules)
    assert isinstance(first, RetryAction)
    assert isinstance(second, RetryAction)
    assert (first.type, first.max_attempts) == ("retry", 3)
    assert (second.type, second.max_attempts, second.temperature) == ("retry", 1, 0.2)


def test_marks_are_recorded_for_keys_and_values() -> None:
    document = read_text("rules:\n  - name: x\n    when: {stage: process}\n")
    assert (document.key_marks[("rules", 0, "when")].line, document.key_marks[("rules",)].line) == (
        3,
        1,
    )
    mark = document.value_marks[("rules", 0, "when", "stage")]
    assert (mark.line, mark.column) == (3, 19)


def test_from_file_reads_and_locates(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nname: ok\non_error: fail_open\n", encoding="utf-8")
    assert Policy.from_file(path).on_error == "fail_open"
    path.write_text("version: 1\nnmae: ok\n", encoding="utf-8")
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_file(path)
    issue = info.value.issues[0]
    assert (issue.source, issue.line, issue.column, issue.suggestion) == (str(path), 2, 1, "name")


@pytest.mark.parametrize("kind", ["missing", "directory", "huge"])
def test_from_file_errors_are_config_errors(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "p.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "huge":
        path.write_bytes(b"# " + b"x" * (MAX_DOCUMENT_BYTES + 10))
    with pytest.raises(GuardrailConfigError) as info:
        Policy.from_file(path)
    assert info.value.issues[0].source == str(path)


def test_from_dict_copies_and_checks_python_data() -> None:
    data = {"name": "d", "rules": ({"name": "r", "when": {"stage": "process"}, "action": "flag"},)}
    policy = Policy.from_dict(data)
    assert policy.rules[0].action.type == "flag"
    with pytest.raises(GuardrailConfigError, match="keys must be strings"):
        Policy.from_dict({"name": "d", "rules": [{1: 2}]})
    cyclic: dict[str, object] = {"name": "c"}
    cyclic["self"] = cyclic
    with pytest.raises(GuardrailConfigError, match="recursive"):
        Policy.from_dict(cyclic)
    with pytest.raises(GuardrailConfigError, match="mapping at the top level"):
        Policy.from_dict(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_strings_are_never_coerced_to_numbers() -> None:
    error = _error("rules:\n  - name: r\n    when: {confidence_below: '0.3'}\n    action: abort\n")
    assert error.issues[0].key_path == "rules[0].when.confidence_below"
    assert "str '0.3'" in error.issues[0].message
