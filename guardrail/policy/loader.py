"""Read a policy document into plain Python data, remembering where each key and value was.

Safety rules, applied to YAML text and to Python mappings alike:

* documents over :data:`MAX_DOCUMENT_BYTES` are refused before parsing; so are non-UTF-8 bytes,
  NUL bytes and empty documents;
* only the YAML safe schema is used (no Python tags); a single document is allowed;
* duplicate keys, non-string keys and nesting deeper than :data:`MAX_DEPTH` are errors;
* aliases are expanded with a budget of :data:`MAX_NODES` nodes (so an alias bomb is refused)
  and recursive aliases are refused; ``<<`` merge keys are supported.

The result is a :class:`LocatedDocument` whose marks map a key path such as
``("rules", 0, "action")`` to its 1-based line and column; :mod:`guardrail.policy.diagnostics`
uses them to point validation errors at the file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from guardrail.errors import ConfigIssue, GuardrailConfigError

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_NODES",
    "KeyPath",
    "LocatedDocument",
    "Mark",
    "read_file",
    "read_mapping",
    "read_text",
]

MAX_DOCUMENT_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 20_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
# What a safe constructor may raise on a bad scalar (``!!int abc``, ``!!binary ???``, ...).
_CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, TypeError, ArithmeticError)

_TOO_MANY = f"document has more than {MAX_NODES} values (counting every alias expansion)"

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based line and column in the source text."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class LocatedDocument:
    """Plain data (dicts, lists, scalars) plus the marks of its keys and values."""

    data: dict[str, Any]
    source: str | None = None
    value_marks: Mapping[KeyPath, Mark] = field(default_factory=dict)
    key_marks: Mapping[KeyPath, Mark] = field(default_factory=dict)


class _Refused(Exception):
    """Internal: stop reading; the issue says why."""

    def __init__(self, issue: ConfigIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _problem(exc: BaseException) -> str:
    """The one-line problem of a YAML error, without PyYAML's multi-line source excerpt."""
    if isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(part for part in (exc.context, exc.problem) if part) or type(exc).__name__
    return str(exc)


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(yaml.SafeLoader):
    """A safe loader whose composer stops at ``MAX_DEPTH`` levels and ``MAX_NODES`` nodes.

    Stopping while composing (not only while building) keeps a large document cheap to refuse.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH or self._nodes > MAX_NODES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(
                    ConfigIssue(
                        f"document is nested deeper than {MAX_DEPTH} levels"
                        if self._depth > MAX_DEPTH
                        else _TOO_MANY,
                        line=mark.line + 1,
                        column=mark.column + 1,
                    )
                )
            node: Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1


class _Builder:
    """Turn a composed node graph (or Python data) into plain data with marks, within budgets."""

    def __init__(self, loader: _Loader | None, source: str | None) -> None:
        self.loader = loader
        self.source = source
        self.budget = MAX_NODES
        self.active: set[int] = set()
        self.value_marks: dict[KeyPath, Mark] = {}
        self.key_marks: dict[KeyPath, Mark] = {}
        self.issues: list[ConfigIssue] = []

    def refuse(self, message: str, mark: Mark | None, path: KeyPath = ()) -> _Refused:
        return _Refused(self.issue(message, mark, path))

    def issue(self, message: str, mark: Mark | None, path: KeyPath = ()) -> ConfigIssue:
        return ConfigIssue(
            message,
            key_path=format_key_path(path),
            source=self.source,
            line=None if mark is None else mark.line,
            column=None if mark is None else mark.column,
        )

    def _enter(self, identity: int, mark: Mark | None, path: KeyPath) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.refuse(_TOO_MANY, mark, path)
        if identity in self.active:
            raise self.refuse("recursive alias or reference", mark, path)
        if len(path) > MAX_DEPTH:
            raise self.refuse(f"document is nested deeper than {MAX_DEPTH} levels", mark, path)

    # --------------------------------------------------------------------- YAML nodes
    def node(self, node: Node, path: KeyPath) -> Any:
        mark = _mark(node)
        self._enter(id(node), mark, path)
        self.value_marks[path] = mark
        if isinstance(node, ScalarNode):
            assert self.loader is not None
            try:
                return self.loader.construct_object(node, deep=True)
            except _CONSTRUCT_ERRORS as exc:
                raise self.refuse(f"invalid value: {_problem(exc)}", mark, path) from None
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            raise self.refuse(f"unsupported YAML tag {node.tag!r}", mark, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.node(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self.mapping_node(node, path)
            raise self.refuse(f"unsupported YAML node {type(node).__name__}", mark, path)
        finally:
            self.active.discard(id(node))

    def mapping_node(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in self._merge_sources(value_node, path):
                    for key, value in self.node(source, path).items():
                        merged.setdefault(key, value)
        own: dict[str, Any] = {}
        first_seen: dict[str, Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.key(key_node, path)
            key_mark = _mark(key_node)
            if key in first_seen:
                where = first_seen[key]
                self.issues.append(
                    self.issue(
                        f"duplicate key {key!r} (first defined at line {where.line})",
                        key_mark,
                        (*path, key),
                    )
                )
                continue
            first_seen[key] = key_mark
            self.key_marks[(*path, key)] = key_mark
            own[key] = self.node(value_node, (*path, key))
        self.value_marks[path] = _mark(node)
        return {**{k: v for k, v in merged.items() if k not in own}, **own}

    def _merge_sources(self, value: Node, path: KeyPath) -> list[MappingNode]:
        if isinstance(value, MappingNode):
            return [value]
        if isinstance(value, SequenceNode) and all(isinstance(v, MappingNode) for v in value.value):
            return list(value.value)
        raise self.refuse("'<<' must merge a mapping or a list of mappings", _mark(value), path)

    def key(self, key_node: Node, path: KeyPath) -> str:
        mark = _mark(key_node)
        if not isinstance(key_node, ScalarNode):
            raise self.refuse("keys must be plain strings, not collections", mark, path)
        assert self.loader is not None
        try:
            key = self.loader.construct_object(key_node)
        except _CONSTRUCT_ERRORS as exc:
            raise self.refuse(f"invalid key: {_problem(exc)}", mark, path) from None
        if not isinstance(key, str):
            hint = " (YAML reads yes/no/on/off/true/false as booleans: quote the key)"
            raise self.refuse(
                f"keys must be strings, got {type(key).__name__} {key!r}"
                + (hint if isinstance(key, bool) else ""),
                mark,
                path,
            )
        return key

    # ------------------------------------------------------------------ Python values
    def value(self, value: object, path: KeyPath) -> Any:
        self._enter(id(value), None, path)
        if isinstance(value, Mapping):
            self.active.add(id(value))
            try:
                result: dict[str, Any] = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise self.refuse(
                            f"keys must be strings, got {type(key).__name__} {key!r}", None, path
                        )
                    result[key] = self.value(item, (*path, key))
                return result
            finally:
                self.active.discard(id(value))
        if isinstance(value, list | tuple):
            self.active.add(id(value))
            try:
                return [self.value(item, (*path, i)) for i, item in enumerate(value)]
            finally:
                self.active.discard(id(value))
        return value


def format_key_path(path: Sequence[str | int]) -> str:
    """Render ``("rules", 0, "when")`` as ``rules[0].when``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _config_error(issue: ConfigIssue) -> GuardrailConfigError:
    return GuardrailConfigError([issue])


def _decode(raw: bytes, source: str | None) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _config_error(
            ConfigIssue(
                f"not UTF-8 text (invalid byte at offset {exc.start})",
                source=source,
                expected="a UTF-8 encoded YAML document",
            )
        ) from None


def _line_column(text: str, position: int) -> Mark:
    before = text[:position]
    line = before.count("\n") + 1
    return Mark(line, position - (before.rfind("\n") + 1) + 1)


def _too_large(source: str | None) -> GuardrailConfigError:
    return _config_error(
        ConfigIssue(
            f"document is larger than {MAX_DOCUMENT_BYTES} bytes",
            source=source,
            expected=f"a policy under {MAX_DOCUMENT_BYTES // 1_000_000} MB",
        )
    )


def _check_text(text: str, source: str | None) -> None:
    if len(text) > MAX_DOCUMENT_BYTES or (
        len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES
    ):
        raise _too_large(source)
    if "\x00" in text:
        mark = _line_column(text, text.index("\x00"))
        raise _config_error(
            ConfigIssue(
                "binary data (NUL byte) in a policy document",
                source=source,
                line=mark.line,
                column=mark.column,
                expected="a YAML text document",
            )
        )
    if not text.strip():
        raise _config_error(
            ConfigIssue("policy document is empty", source=source, expected="a YAML mapping")
        )


def _yaml_issue(exc: yaml.YAMLError, text: str, source: str | None) -> ConfigIssue:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        return ConfigIssue(
            f"invalid YAML: {_problem(exc)}",
            source=source,
            line=None if mark is None else mark.line + 1,
            column=None if mark is None else mark.column + 1,
        )
    if isinstance(exc, ReaderError):
        where = _line_column(text, exc.position)
        return ConfigIssue(
            f"invalid character U+{exc.character:04X} in YAML text",
            source=source,
            line=where.line,
            column=where.column,
        )
    return ConfigIssue(f"invalid YAML: {exc}", source=source)


def _require_mapping(data: object, source: str | None, mark: Mark | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        kind = "null" if data is None else type(data).__name__
        raise _config_error(
            ConfigIssue(
                f"a policy must be a mapping at the top level, got {kind}",
                source=source,
                line=None if mark is None else mark.line,
                column=None if mark is None else mark.column,
                expected="a mapping with version, rules, ...",
            )
        )
    return data


def read_text(text: str | bytes, source: str | None = None) -> LocatedDocument:
    """Parse one YAML policy document. Raises :class:`GuardrailConfigError`, never anything else."""
    if isinstance(text, bytes):
        if len(text) > MAX_DOCUMENT_BYTES:
            raise _too_large(source)
        text = _decode(text, source)
    _check_text(text, source)
    try:
        root, builder, data = _parse(text, source)
    except _Refused as refused:
        raise _config_error(dataclasses.replace(refused.issue, source=source)) from None
    except yaml.YAMLError as exc:
        raise _config_error(_yaml_issue(exc, text, source)) from None
    except RecursionError:
        raise _config_error(ConfigIssue("document is nested too deeply", source=source)) from None
    if builder.issues:
        raise GuardrailConfigError(builder.issues)
    return LocatedDocument(
        _require_mapping(data, source, _mark(root)),
        source,
        builder.value_marks,
        builder.key_marks,
    )


def _parse(text: str, source: str | None) -> tuple[Node, _Builder, Any]:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise _Refused(
                ConfigIssue("policy document is empty", source=source, expected="a YAML mapping")
            )
        builder = _Builder(loader, source)
        return root, builder, builder.node(root, ())
    finally:
        loader.dispose()


def read_mapping(data: object, source: str | None = None) -> LocatedDocument:
    """Copy Python data into a plain, bounded document (tuples become lists; keys must be str)."""
    builder = _Builder(None, source)
    try:
        plain = builder.value(data, ())
    except _Refused as refused:
        raise _config_error(refused.issue) from None
    return LocatedDocument(_require_mapping(plain, source, None), source)


def read_file(path: str | os.PathLike[str]) -> LocatedDocument:
    """Read and parse a policy file, refusing files over :data:`MAX_DOCUMENT_BYTES`."""
    source = os.fspath(path)
    try:
        with Path(source).open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise _config_error(
            ConfigIssue(f"cannot read policy file: {exc.strerror or exc}", source=source)
        ) from None
    return read_text(raw, source)
