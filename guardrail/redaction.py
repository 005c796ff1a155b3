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
  or ``set cookie``; when it ends in ``token`` (``apitoken``, ``csrftoken``, ``hf_token``); or
  when it is a provider's or service's ``key`` (``openai_key``, ``anthropicKey``,
  ``license_key``). So ``api_key``, ``X-Api-Key``, ``clientSecret``, ``auth_header``,
  ``signing_key`` and ``access_token`` are masked, while ``token_index``, ``max_tokens``,
  ``author``, ``sort_key`` and ``dedupe_key`` are not. Header lists
  (``[("Authorization", "Bearer ...")]``) are pairs whose first item is such a key.
* **values** (:func:`redact_text`): every string is scanned for bearer/basic credentials,
  provider-style keys (``sk-...``, ``ghp_...``, ``glpat-...``, ``hf_...``, ``ya29....``,
  ``xoxb-...``, ``AKIA...``, ``AIza...``), JSON Web Tokens, PEM private keys (whole or cut
  short), the user information of URLs (``user:password@``, up to the last ``@`` of the
  authority, so an unencoded ``@`` in the password does not leak its tail), secret-named query
  parameters (``?api_key=...``) and secret-named keys written as text: ``password=...`` (a
  libpq DSN), ``"openai_key": "..."`` (JSON), ``csrftoken=...; path=/`` (a cookie); each
  match is replaced, the rest of the text is kept.

:func:`safe_url` is the form of a URL that may be shown (scheme, host, port and path: no user
information, no query), :func:`describe_error` an exception as one bounded, redacted line
with control characters escaped, and :class:`RedactingFilter` a logging filter that redacts
the records of loggers we do not write (``httpx``, ``httpcore``); see
:func:`install_log_redaction`.

This module depends on the standard library only: the policy layer uses it for run metadata
and the audit log for every record.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "LIBRARY_LOGGERS",
    "OWN_LOGGERS",
    "REDACTED",
    "RedactingFilter",
    "bounded",
    "describe_error",
    "install_log_redaction",
    "is_secret_key",
    "redact",
    "redact_text",
    "safe_url",
]

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
_KEY_OWNERS = (
    "openai",
    "anthropic",
    "cohere",
    "mistral",
    "groq",
    "gemini",
    "google",
    "hf",
    "huggingface",
    "github",
    "gitlab",
    "stripe",
    "aws",
    "azure",
    "gcp",
    "pinecone",
    "replicate",
    "together",
    "deepseek",
    "license",
    "master",
    "admin",
    "service",
    "account",
)
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
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}"), REDACTED),
    (re.compile(r"\bya29\.[A-Za-z0-9_.-]{20,}"), REDACTED),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
    # PEM private keys: a whole block, or a block cut short (its base64 run; a newline may be
    # written as the two characters of JSON's escape).
    (
        re.compile(
            r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----.{0,20000}?"
            r"-----END[A-Z ]{0,40}PRIVATE KEY-----",
            re.DOTALL,
        ),
        REDACTED,
    ),
    (re.compile(r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\[nr])*"), REDACTED),
    # The user information of a URL, up to the authority's last '@' (the user name goes too:
    # it often is the key; an unencoded '@' in a password must not leak what follows it).
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#@]*(?:@[^/\s?#@]*)*@"),
        r"\1" + REDACTED + "@",
    ),
)
_QUERY = re.compile(r"([?&;])([^=&#\s]+)=([^&#\s]*)")
# A key written as text (``password=...``, ``"openai_key": "..."``, ``token: ...``); the value
# is masked when the key is secret (:func:`is_secret_key`). A quoted value ends at its closing
# quote (or, cut short, at the first space); a bare one at a space or a separator.
_NAMED_KEY = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?P<q>["']?)(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P=q)"""
    r"""[ \t]*[:=][ \t]*"""
)
_NAMED_VALUE = re.compile(
    r""""(?:[^"\\\n]|\\.){1,4096}"|'[^'\n]{1,4096}'|["']?[^\s"'&,;{}()<>\[\]]+"""
)
_SCHEMES = frozenset({"bearer", "basic", "digest", "token", "negotiate"})
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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
        or joined.endswith("token")
        or (joined.endswith("key") and joined[:-3].endswith(_KEY_OWNERS))
    )


def _query(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if is_secret_key(name) or name.lower() in ("key", "sig", "signature", "code"):
        return f"{sep}{name}={REDACTED}" if value else match.group()
    return match.group()


def _mask_named_values(text: str) -> str:
    """Mask the values written after secret-named keys (each key is looked at, quoted or not)."""
    out: list[str] = []
    done = 0
    for key in _NAMED_KEY.finditer(text):
        if key.start() < done or not is_secret_key(key.group("name")):
            continue
        value = _NAMED_VALUE.match(text, key.end())
        if value is None or value.group().strip("\"'").lower() in _SCHEMES:
            continue
        raw = value.group()
        quote = raw[0] if raw[0] in "\"'" else ""
        closing = quote if len(raw) > 1 and raw.endswith(quote) else ""
        out.append(text[done : key.end()] + quote + REDACTED + closing)
        done = value.end()
    return "".join(out) + text[done:] if out else text


def redact_text(text: str) -> str:
    """``text`` with secret-looking values (see the module documentation) replaced."""
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    if "=" in text:
        text = _QUERY.sub(_query, text)
    if "=" in text or ":" in text:
        text = _mask_named_values(text)
    return text


def bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters (an ellipsis marks the cut)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def describe_error(exc: BaseException, limit: int = 500) -> str:
    """``"Type: message"`` of ``exc`` on one line: redacted, controls escaped, ``limit`` long.

    The form every error takes before it leaves the process in a message of ours (an abort
    message, a decision's reasons, a CLI line): a peer's error text may carry our URL, a
    header it echoed, or terminal escapes, and may be megabytes long.
    """
    return bounded(printable(redact_text(f"{type(exc).__name__}: {exc}")), limit)


def printable(text: str) -> str:
    r"""``text`` with C0/C1 control characters and bidi controls escaped (as ``\x1b``)."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def safe_url(url: str) -> str:
    """The part of ``url`` that may be shown: scheme, host, port and path (redacted).

    User information and the query are left out, whatever they hold; a URL that cannot be
    parsed is shown redacted as text.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return redact_text(url)
    if not parts.scheme or not parts.hostname:
        return redact_text(url)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    return redact_text(f"{parts.scheme}://{netloc}{parts.path}")


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message with :func:`redact_text`.

    The message is formatted once (``record.getMessage()``), redacted and stored with no
    arguments left, so no handler can format the original values again; a traceback is
    formatted and redacted too (handlers reuse ``record.exc_text``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: show it unformatted, still redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:  # handlers reuse the cached text
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


LIBRARY_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "psycopg",
    "psycopg.pool",
)
"""Loggers of the HTTP and PostgreSQL client libraries (request lines and connection strings)."""
OWN_LOGGERS = (
    "guardrail.audit",
    "guardrail.audit.jsonl",
    "guardrail.decisions",
    "guardrail.review",
    "guardrail.review.webhook",
    "guardrail.runtime.review",
    "guardrail.scoring_worker",
    "guardrail.storage.postgres",
    "guardrail.telemetry.instruments",
)
"""Our loggers that may quote a peer's text (an error from a service, a database, a webhook)."""

_FILTER = RedactingFilter()


def install_log_redaction(names: tuple[str, ...] = LIBRARY_LOGGERS + OWN_LOGGERS) -> None:
    """Add the redacting filter to the loggers ``names`` (idempotent).

    A logger's filters see only the records logged on that logger itself, not those its
    children propagate, so every logger that writes is named.
    """
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


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
