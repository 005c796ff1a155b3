"""Make payloads safe to write down: JSON-ready, with secrets masked by key *and* by value.

:func:`redact` walks mappings, sequences, dataclasses, pydantic models and objects with
``to_dict()`` *before* anything is turned into a string, so a secret nested in run metadata
(``{"headers": {"Authorization": ...}}``) is masked where it sits instead of leaking inside a
``repr``. Two tests decide what is secret:

* **keys** (:func:`is_secret_key`): split into words (``snake_case``, ``kebab-case``,
  ``camelCase``), a key is secret when a word is one of ``secret``, ``password``, ``passwd``,
  ``pwd``, ``passphrase``, ``authorization``, ``auth``, ``bearer``, ``cookie``, ``credential``,
  ``jwt``, ``session``, ``sessionid``; when it spells ``api key``, ``private key``, ``access
  key``, ``secret key``, ``client key``, ``signing key``, ``session key``, ``encryption key``
  or ``set cookie``; or when it ends in ``token``. So ``api_key``, ``X-Api-Key``,
  ``clientSecret``, ``auth_header``, ``signing_key`` and ``access_token`` are masked, while
  ``token_index``, ``max_tokens``, ``author`` and ``dedupe_key`` are not. Header lists
  (``[("Authorization", "Bearer ...")]``) are pairs whose first item is such a key.
* **values** (:func:`redact_text`): every string is scanned for bearer/basic credentials,
  provider-style keys (``sk-...``, ``ghp_...``, ``xoxb-...``, ``AKIA...``, ``AIza...``), JSON
  Web Tokens, ``user:password@`` in URLs and secret-named query parameters
  (``?api_key=...``); each match is replaced, the rest of the text is kept.

This module depends on the standard library only: the policy layer uses it for run metadata
and the audit log for every record.
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

__all__ = ["REDACTED", "is_secret_key", "redact", "redact_text"]

REDACTED = "[REDACTED]"

_ANYWHERE = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "passphrase",
        "authorization",
        "auth",
        "bearer",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "jwt",
        "session",
        "sessionid",
    }
)
_JOINED = (
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "clientkey",
    "signingkey",
    "sessionkey",
    "encryptionkey",
    "setcookie",
)
_LAST = frozenset({"token"})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")
_MAX_DEPTH = 64

_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization schemes followed by a credential (one that does not read like a word: it
    # has a digit, a symbol or a lower-to-upper case change, so "Basic Arithmetic" stays).
    (
        re.compile(
            r"(?i:\b(bearer|basic))(\s+)"
            r"(?=[A-Za-z._~-]*(?:[0-9+/=]|[a-z][A-Z]))[A-Za-z0-9._~+/-]{8,}=*"
        ),
        r"\1\2" + REDACTED,
    ),
    # Provider-style keys: OpenAI/Anthropic (sk-, sk-proj-, sk-ant-), Stripe-like (pk_, rk_),
    # GitHub, Slack, AWS access key ids, Google API keys.
    (re.compile(r"\b(?:sk|pk|rk)[-_](?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[A-Za-z0-9_-]{30,}"), REDACTED),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
    # user:password@ in a URL (the user name goes too: it often is the key).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^/\s@]*@"), r"\1" + REDACTED + "@"),
)
_QUERY = re.compile(r"([?&;])([^=&#\s]+)=([^&#\s]*)")


def is_secret_key(key: object) -> bool:
    """Whether a mapping key (or header name) names something that must not be written down."""
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


def _query(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if is_secret_key(name) or name.lower() in ("key", "sig", "signature", "code"):
        return f"{sep}{name}={REDACTED}" if value else match.group()
    return match.group()


def redact_text(text: str) -> str:
    """``text`` with secret-looking values (see the module documentation) replaced."""
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    if "=" in text:
        text = _QUERY.sub(_query, text)
    return text


def _is_pair(value: object) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], str)


def redact(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` with secrets masked (by key and by value).

    Mappings, sequences, dataclasses, pydantic models and objects with ``to_dict()``
    (checkpoint events) are walked; datetimes become ISO strings, enums their values,
    non-finite floats ``None``, and anything else its ``repr`` (itself scanned for values).
    """
    if _depth > _MAX_DEPTH:
        return "[TOO DEEP]"
    if value is None or isinstance(value, bool | int | float | str | bytes | bytearray):
        return _scalar(value)
    if isinstance(value, Enum):
        return redact(value.value, _depth + 1)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return redact_text(str(value))
    if isinstance(value, Mapping):
        return {
            redact_text(str(key)): REDACTED if is_secret_key(key) else redact(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [
            [item[0], REDACTED]
            if _is_pair(item) and is_secret_key(item[0])
            else redact(item, _depth + 1)
            for item in items
        ]
    return _object(value, _depth)


def _scalar(value: bool | int | float | str | bytes | bytearray | None) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, float) and not isinstance(value, bool):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray):
        return redact_text(repr(bytes(value)))
    return value


def _object(value: Any, depth: int) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return redact(to_dict(), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact(dataclasses.asdict(value), depth + 1)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return redact(model_dump(mode="json"), depth + 1)
    return redact_text(repr(value))
