"""Turn pydantic validation errors into located, helpful :class:`ConfigIssue` objects.

A pydantic error ``loc`` such as ``("rules", 0, "action", "retry", "max_attemps")`` is walked
along the document: parts that are keys or indexes of the data are followed, parts that are not
(the union tag ``retry``, a field added by a shorthand expansion) are skipped. The deepest part
reached gives the line and column; for an unknown key, the key itself. Unknown keys, action
types and literal values get the closest valid name (``difflib``) as a suggestion.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from guardrail.errors import ConfigIssue
from guardrail.policy.loader import KeyPath, LocatedDocument, Mark, format_key_path

__all__ = ["closest_name", "issues_from_validation", "model_keys_at"]

_QUOTED = re.compile(r"'([^']*)'")

_TYPE_NAMES = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "finite_number": "a finite number",
    "literal_error": None,
}

_BOUNDS = {
    "greater_than": ("gt", "a number > {}"),
    "greater_than_equal": ("ge", "a number >= {}"),
    "less_than": ("lt", "a number < {}"),
    "less_than_equal": ("le", "a number <= {}"),
    "too_short": ("min_length", "at least {} item(s)"),
    "too_long": ("max_length", "at most {} item(s)"),
    "string_too_short": ("min_length", "at least {} character(s)"),
    "string_too_long": ("max_length", "at most {} character(s)"),
}


def closest_name(word: object, candidates: Sequence[str]) -> str | None:
    """The candidate closest to ``word`` (``difflib``), or ``None`` when nothing is close."""
    if not isinstance(word, str) or not candidates:
        return None
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


# ------------------------------------------------------------------ model walking
def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``None`` from an annotation."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _field(model: type[BaseModel], name: object) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info.annotation
    return None


def _tagged_member(annotation: Any, tag: object) -> Any:
    for member in get_args(annotation):
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            type_field = member.model_fields.get("type")
            if type_field is not None and type_field.default == tag:
                return member
    return None


def _step(annotation: Any, part: str | int) -> Any:
    """Follow one ``loc`` part (field, index, key or union tag); ``None`` when it leads nowhere."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _field(annotation, part)
    if origin is list and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    if origin in (Union, types.UnionType):
        return _tagged_member(annotation, part)
    return None


def model_keys_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys accepted by the model that ``loc`` points into (empty when unknown)."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return []


# --------------------------------------------------------------- document walking
def _walk(doc: LocatedDocument, loc: Sequence[str | int]) -> tuple[KeyPath, bool]:
    """Follow ``loc`` through the data; return the path reached and whether all of it matched."""
    node: Any = doc.data
    path: KeyPath = ()
    complete = True
    for part in loc:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            path = (*path, part)
        else:
            complete = False
    return path, complete


def _locate(doc: LocatedDocument, path: KeyPath, *, key: bool) -> Mark | None:
    if key and path in doc.key_marks:
        return doc.key_marks[path]
    for end in range(len(path), -1, -1):
        mark = doc.value_marks.get(path[:end])
        if mark is not None:
            return mark
    return None


# ------------------------------------------------------------------ one error
def _expected_and_suggestion(
    error: ErrorDetails, root: type[BaseModel], loc: tuple[str | int, ...]
) -> tuple[str | None, str | None]:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        keys = model_keys_at(root, loc[:-1])
        expected = "one of " + ", ".join(keys) if keys else None
        return expected, closest_name(loc[-1], keys)
    if kind == "union_tag_invalid":
        tags = _QUOTED.findall(str(ctx.get("expected_tags", "")))
        return "type one of " + ", ".join(tags), closest_name(ctx.get("tag"), tags)
    if kind == "union_tag_not_found":
        return f"a {ctx.get('discriminator', 'type')} key naming the kind", None
    if kind == "literal_error":
        options = _QUOTED.findall(str(ctx.get("expected", "")))
        return f"one of {ctx.get('expected')}", closest_name(error.get("input"), options)
    if kind == "missing":
        return f"a value for {loc[-1]!r}" if loc else None, None
    if kind in _BOUNDS:
        key, template = _BOUNDS[kind]
        return template.format(ctx.get(key)), None
    if kind in _TYPE_NAMES:
        return _TYPE_NAMES[kind], None
    expected = ctx.get("expected")
    suggestion = ctx.get("suggestion")
    return (
        None if expected is None else str(expected),
        None if suggestion is None else str(suggestion),
    )


def _message(error: ErrorDetails) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"unknown key {error['loc'][-1]!r}" if error["loc"] else "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "union_tag_invalid":
        ctx = error.get("ctx") or {}
        return f"unknown {str(ctx.get('discriminator', 'type')).strip(chr(39))} {ctx.get('tag')!r}"
    if error["type"] == "literal_error":
        return f"invalid value {error.get('input')!r}"
    if message.startswith(("Value error, ", "Assertion failed, ")):
        message = message.split(", ", 1)[1]
    if error["type"] not in ("policy_error", "value_error") and "input" in error:
        shown = repr(error["input"])
        if len(shown) <= 60 and not isinstance(error["input"], dict | list):
            message += f", got {shown}"
    return message


def _issue(error: ErrorDetails, doc: LocatedDocument, root: type[BaseModel]) -> ConfigIssue:
    loc = tuple(error["loc"])
    at = (error.get("ctx") or {}).get("at")
    if isinstance(at, tuple):
        loc = (*loc, *at)
    kind = error["type"]
    if kind == "union_tag_invalid":
        loc = (*loc, "type")
    path, complete = _walk(doc, loc)
    shown_path: KeyPath = path
    if kind == "missing" and loc and not complete:
        shown_path = (*path, loc[-1])
    mark = _locate(doc, path, key=kind == "extra_forbidden")
    expected, suggestion = _expected_and_suggestion(error, root, loc)
    return ConfigIssue(
        _message(error),
        key_path=format_key_path(shown_path),
        source=doc.source,
        line=None if mark is None else mark.line,
        column=None if mark is None else mark.column,
        expected=expected,
        suggestion=suggestion,
    )


def issues_from_validation(
    exc: ValidationError, doc: LocatedDocument, root: type[BaseModel]
) -> list[ConfigIssue]:
    """Every error of ``exc`` as a located issue, in document order, without duplicates."""
    issues: list[ConfigIssue] = []
    for error in exc.errors(include_url=False):
        issue = _issue(error, doc, root)
        if issue not in issues:
            issues.append(issue)
    issues.sort(key=lambda i: (i.line or 0, i.column or 0))
    return issues
