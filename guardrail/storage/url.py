"""Database locations: a file path, ``sqlite:///path`` or ``postgresql://...``.

A PostgreSQL URL is checked before any connection is tried, so a malformed one fails at once
with the part that is wrong (scheme, an unencoded ``@`` in the user information, bad
percent-encoding, a port, an ``sslmode`` or another setting's value), never after a pool has
waited for a connection that cannot come. Whatever is shown of a URL (:func:`redact_url`,
errors, ``repr``) masks its password, both the one in the user information and the one in the
query (``?password=``, ``?sslpassword=``, any secret-named parameter).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from guardrail.errors import GuardrailConfigError
from guardrail.redaction import is_secret_key, redact_text

__all__ = [
    "DatabaseURL",
    "check_postgres_url",
    "is_postgres_url",
    "parse_database_url",
    "redact_url",
    "scrub_secrets",
    "url_secrets",
]

_POSTGRES_SCHEMES = ("postgresql", "postgres")
_SQLITE_PREFIX = "sqlite:///"
_MASK = "***"
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PORT_RANGE = range(1, 65536)
_MISSING_SLASHES = re.compile(r"(?i)^(postgresql|postgres|sqlite):(?!//)")

# Values libpq checks only when it connects (a pool would retry them until it times out).
_CHOICES = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "target_session_attrs": (
        "any",
        "read-write",
        "read-only",
        "primary",
        "standby",
        "prefer-standby",
    ),
    "load_balance_hosts": ("disable", "random"),
}
_INTEGERS = (
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed location. ``path`` is set for SQLite, ``dsn`` (the URL as given) for PostgreSQL.

    ``str()`` and ``repr()`` never show the URL's password.
    """

    backend: Literal["sqlite", "postgresql"]
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else redact_url(self.dsn or "")

    def __repr__(self) -> str:
        where = f"path={str(self.path)!r}" if self.path is not None else f"dsn={str(self)!r}"
        return f"DatabaseURL(backend={self.backend!r}, {where})"


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` is a ``postgresql://`` (or ``postgres://``) URL."""
    text = os.fspath(target)
    return isinstance(text, str) and text.split("://", 1)[0].lower() in _POSTGRES_SCHEMES


def parse_database_url(target: str | os.PathLike[str], *, what: str) -> DatabaseURL:
    """Parse a path, ``sqlite:///PATH`` or a ``postgresql://user:password@host:port/db`` URL.

    ``sqlite:////abs/path`` names an absolute path. A PostgreSQL URL is checked by
    :func:`check_postgres_url`. Any other scheme, and any malformed URL, is a
    :class:`~guardrail.errors.GuardrailConfigError` that names ``what`` and the wrong part.
    """
    text = os.fspath(target)
    if not isinstance(text, str):
        raise GuardrailConfigError(f"{what} must be a path or a URL, got {target!r}")
    if is_postgres_url(text):
        check_postgres_url(text, what=what)
        return DatabaseURL("postgresql", dsn=text)
    if text.startswith(_SQLITE_PREFIX):
        rest = unquote(text[len(_SQLITE_PREFIX) :])
        if not rest:
            raise GuardrailConfigError(f"{what} URL {text!r} names no file (sqlite:///PATH)")
        return DatabaseURL("sqlite", path=_expand(rest, what))
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme.lower() == "sqlite":
        raise GuardrailConfigError(
            f"{what} {text!r}: an SQLite URL is sqlite:///PATH (three slashes, four for an "
            "absolute path)"
        )
    if scheme:
        raise GuardrailConfigError(
            f"{what} {redact_url(text)!r}: unknown scheme {scheme!r} "
            "(use a file path, sqlite:///PATH or postgresql://...)"
        )
    misspelt = _MISSING_SLASHES.match(text)
    if misspelt:
        scheme = misspelt.group(1)
        raise GuardrailConfigError(  # the rest is not shown: it may hold a password
            f"{what}: a URL needs '://' after {scheme!r} ({scheme.lower()}://...)"
        )
    return DatabaseURL("sqlite", path=_expand(text, what))


def _expand(text: str, what: str) -> Path:
    try:
        return Path(text).expanduser()
    except RuntimeError as exc:  # "~user" of no such user, or no home directory
        raise GuardrailConfigError(f"{what} {text!r}: cannot expand '~' ({exc})") from None


def check_postgres_url(url: str, *, what: str) -> None:
    """Refuse a malformed ``postgresql://`` URL, naming the part that is wrong.

    Checked: the scheme, no ``#fragment``, at most one ``@`` (an unencoded one in a password
    makes libpq and Python read different hosts), percent-encoding of every part, each port
    (1-65535), and the values of ``sslmode``, ``gssencmode``, ``channel_binding``,
    ``target_session_attrs``, ``load_balance_hosts`` and the integer settings. The names of
    query parameters are left to libpq (see :class:`~guardrail.storage.postgres.
    PostgresDatabase`). A password is never part of the message.
    """
    prefix = f"{what} URL {redact_url(url)!r}"
    if not is_postgres_url(url):
        scheme = url.split("://", 1)[0] if "://" in url else ""
        raise GuardrailConfigError(
            f"{prefix}: scheme {scheme!r} is not postgresql:// or postgres://"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise GuardrailConfigError(f"{prefix}: cannot be parsed ({exc})") from None
    if parts.fragment:
        raise GuardrailConfigError(f"{prefix} must not have a #fragment")
    _check_netloc(parts.netloc, prefix)
    if _BAD_PERCENT.search(parts.path):
        raise GuardrailConfigError(f"{prefix}: the database name has a bad %-escape")
    for name, value in _query_pairs(parts.query, prefix):
        _check_parameter(name, value, prefix)


def _check_netloc(netloc: str, prefix: str) -> None:
    if netloc.count("@") > 1:
        raise GuardrailConfigError(
            f"{prefix}: the user information has an unencoded '@' (write it as %40)"
        )
    userinfo, _, hosts = netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    if _BAD_PERCENT.search(user):
        raise GuardrailConfigError(f"{prefix}: the user name has a bad %-escape")
    if has_password and _BAD_PERCENT.search(password):
        raise GuardrailConfigError(f"{prefix}: the password has a bad %-escape (write '%' as %25)")
    for host in hosts.split(","):
        _check_host(host, prefix)


def _check_host(host: str, prefix: str) -> None:
    if host.startswith("["):
        address, bracket, rest = host[1:].partition("]")
        if not bracket:
            raise GuardrailConfigError(f"{prefix}: the IPv6 address {host!r} lacks its ']'")
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            raise GuardrailConfigError(f"{prefix}: unexpected {rest!r} after the IPv6 address")
    else:
        address, colon, after = host.partition(":")
        port = after if colon else None
    if _BAD_PERCENT.search(address):
        raise GuardrailConfigError(f"{prefix}: the host {address!r} has a bad %-escape")
    if port is not None and port != "":
        _check_port(port, prefix)


def _check_port(port: str, prefix: str) -> None:
    if not (port.isascii() and port.isdigit() and int(port) in _PORT_RANGE):
        raise GuardrailConfigError(f"{prefix}: port {port!r} is not a number from 1 to 65535")


def _query_pairs(query: str, prefix: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for piece in query.split("&") if query else ():
        raw_name, equals, raw_value = piece.partition("=")
        name = unquote(raw_name)
        if _BAD_PERCENT.search(raw_name):
            raise GuardrailConfigError(f"{prefix}: a query parameter name has a bad %-escape")
        if not equals or not name:
            shown = name if name and not _is_secret_parameter(name) else "..."
            raise GuardrailConfigError(f"{prefix}: query parameter {shown!r} has no name=value")
        if _BAD_PERCENT.search(raw_value):
            raise GuardrailConfigError(
                f"{prefix}: the value of query parameter {name!r} has a bad %-escape"
            )
        pairs.append((name, unquote(raw_value)))
    return pairs


def _check_parameter(name: str, value: str, prefix: str) -> None:
    if name == "port":
        for port in value.split(","):
            _check_port(port, prefix)
    elif name in _CHOICES and value not in _CHOICES[name]:
        valid = ", ".join(_CHOICES[name])
        hint = difflib.get_close_matches(value, _CHOICES[name], n=1)
        maybe = f"; did you mean {hint[0]!r}?" if hint else ""
        raise GuardrailConfigError(f"{prefix}: {name} {value!r} is not one of {valid}{maybe}")
    elif name in _INTEGERS and not (value.isascii() and value.lstrip("-").isdigit()):
        raise GuardrailConfigError(f"{prefix}: {name} {value!r} is not an integer")


def _is_secret_parameter(name: str) -> bool:
    return name.lower() in _SECRET_PARAMETERS or is_secret_key(name)


def redact_url(url: str) -> str:
    """``url`` with its passwords replaced by ``***`` (for messages and ``repr``).

    Masked: the password of the user information (up to the last ``@``) and the value of
    every secret-named query parameter (``password``, ``sslpassword``, ``api_key``, ...).
    Anything else of the text is passed through :func:`guardrail.redaction.redact_text`.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme:
        return redact_text(url)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{_MASK}@{hosts}"
    query = "&".join(_mask_parameter(piece) for piece in parts.query.split("&") if piece)
    if "://" not in url:
        return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))
    shown = f"{parts.scheme}://{netloc}{parts.path}"  # urlunsplit drops an empty host's "//"
    shown += f"?{query}" if query else ""
    return shown + (f"#{parts.fragment}" if parts.fragment else "")


def _mask_parameter(piece: str) -> str:
    name, equals, value = piece.partition("=")
    if equals and value and _is_secret_parameter(unquote(name)):
        return f"{name}={_MASK}"
    return piece


def url_secrets(url: str) -> tuple[str, ...]:
    """The secrets in ``url`` as they may appear in a message: raw and percent-decoded.

    The user information's password (up to the last ``@``) and every secret-named query
    parameter's value, longest first, so that :func:`scrub_secrets` masks whole values.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found: set[str] = set()
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.split(":", 1)[1])
    for piece in parts.query.split("&"):
        name, equals, value = piece.partition("=")
        if equals and _is_secret_parameter(unquote(name)):
            found.add(value)
    found |= {unquote(secret) for secret in found}
    return tuple(sorted((s for s in found if s), key=lambda s: (-len(s), s)))


def scrub_secrets(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each of ``secrets`` replaced by ``***``, then redacted by shape.

    The exact values catch what no shape can (a password echoed inside a driver's parse
    error); :func:`guardrail.redaction.redact_text` catches the rest.
    """
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return redact_text(text)
