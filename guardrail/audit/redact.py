"""Make payloads safe for the audit trail: JSON-ready, with secret-looking keys masked.

A key looks secret when, split into words (``snake_case``, ``kebab-case`` and ``camelCase``),
it contains ``secret``, ``password``, ``passwd``, ``passphrase``, ``authorization``,
``cookie`` or ``credential(s)``, spells ``api key``/``private key``/``access key``, or ends in
``token`` or ``auth``. So ``api_key``, ``X-Api-Key``, ``clientSecret`` and ``access_token`` are
masked, while ``token_index`` and ``max_tokens`` are not.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any

__all__ = ["REDACTED", "is_secret_key", "redact"]

REDACTED = "[REDACTED]"

_ANYWHERE = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "authorization",
        "cookie",
        "credential",
        "credentials",
    }
)
_JOINED = ("apikey", "privatekey", "accesskey", "secretkey", "setcookie")
_LAST = frozenset({"token", "auth"})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")
_MAX_DEPTH = 64


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names something that must not be written down."""
    if not isinstance(key, str):
        return False
    words = [w for w in _SPLIT.split(_CAMEL.sub(r"\1_\2", key).lower()) if w]
    if not words:
        return False
    joined = "".join(words)
    return (
        not _ANYWHERE.isdisjoint(words)
        or any(part in joined for part in _JOINED)
        or words[-1] in _LAST
    )


def redact(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` with the values of secret-looking keys replaced.

    Mappings, sequences, dataclasses and objects with ``to_dict()`` (checkpoint events) are
    walked; datetimes become ISO strings, enums their values, non-finite floats ``None``, and
    anything else its ``repr``.
    """
    if _depth > _MAX_DEPTH:
        return "[TOO DEEP]"
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Enum):
        return redact(value.value, _depth + 1)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if is_secret_key(key) else redact(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, _depth + 1) for item in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return redact(to_dict(), _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact(dataclasses.asdict(value), _depth + 1)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return redact(model_dump(mode="json"), _depth + 1)
    return repr(value)
