"""Validated field types shared by the policy models.

Every policy model derives from :class:`PolicyModel` (``extra="forbid"``, frozen, strict: a YAML
string is never coerced into a number). Validators raise :func:`policy_error`, whose context may
carry ``expected`` (what a valid value looks like), ``suggestion`` (closest valid name) and ``at``
(a path below the failing field), which :mod:`guardrail.policy.diagnostics` turns into a located
:class:`~guardrail.errors.ConfigIssue`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "Delta",
    "NonEmptyStr",
    "PolicyModel",
    "Probability",
    "before",
    "fmt",
    "is_number",
    "policy_error",
    "scalar_or_list",
    "shorthand",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
"""A confidence threshold: a finite number in [0, 1]."""

Delta = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
"""A confidence difference: a finite number in (0, 1]."""

NonEmptyStr = Annotated[str, Field(min_length=1, max_length=256)]


class PolicyModel(BaseModel):
    """Base of every policy model: unknown keys are errors, values are immutable and typed."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def policy_error(message: str, **context: Any) -> PydanticCustomError:
    """A validation error with a fixed message and optional ``expected``/``suggestion``/``at``."""
    # pydantic only substitutes ``{name}`` for names in ``context``; other braces stay as they are
    return PydanticCustomError("policy_error", message, context)


def is_number(value: object) -> bool:
    """True for ``int`` and ``float`` values that are not ``bool``."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def fmt(value: float) -> str:
    """Format a confidence or threshold for reasons and summaries (``0.3``, ``0.2134``)."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def shorthand(
    key: str,
    field: str,
    accepts: Callable[[object], bool],
    expected: str,
) -> Callable[[object], object]:
    """Build a before-validator that expands ``key: <scalar>`` to ``key: {field: <scalar>}``.

    Mappings pass through unchanged; an explicit ``null`` (the YAML ``key:`` with nothing after
    it) is refused instead of silently disabling the condition.
    """

    def expand(value: object) -> object:
        if isinstance(value, dict):
            return value
        if value is None:
            raise policy_error(f"'{key}' needs a value, got null", expected=expected)
        if accepts(value):
            return {field: value}
        raise policy_error(f"'{key}' got {type(value).__name__} {value!r}", expected=expected)

    return expand


def scalar_or_list(value: object) -> object:
    """Before-validator: wrap a single value into a one-element list; keep lists as they are."""
    if isinstance(value, list):
        return value
    return [value]


def before(func: Callable[[object], object], schema_type: Any) -> BeforeValidator:
    """A ``BeforeValidator`` whose JSON Schema advertises ``schema_type`` as the input."""
    return BeforeValidator(func, json_schema_input_type=schema_type)
