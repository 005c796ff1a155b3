"""Database locations: a file path, ``sqlite:///path`` or ``postgresql://...``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from guardrail.errors import GuardrailConfigError

__all__ = ["DatabaseURL", "is_postgres_url", "parse_database_url", "redact_url"]

_POSTGRES_SCHEMES = ("postgresql", "postgres")
_SQLITE_PREFIX = "sqlite:///"


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed location. ``path`` is set for SQLite, ``dsn`` (the URL as given) for PostgreSQL."""

    backend: Literal["sqlite", "postgresql"]
    path: Path | None = None
    dsn: str | None = None

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else redact_url(self.dsn or "")


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` is a ``postgresql://`` (or ``postgres://``) URL."""
    text = os.fspath(target)
    return isinstance(text, str) and text.split("://", 1)[0].lower() in _POSTGRES_SCHEMES


def parse_database_url(target: str | os.PathLike[str], *, what: str) -> DatabaseURL:
    """Parse a path, ``sqlite:///PATH`` or a ``postgresql://user:password@host:port/db`` URL.

    ``sqlite:////abs/path`` names an absolute path. Any other scheme is a
    :class:`~guardrail.errors.GuardrailConfigError` that names ``what``.
    """
    text = os.fspath(target)
    if not isinstance(text, str):
        raise GuardrailConfigError(f"{what} must be a path or a URL, got {target!r}")
    if is_postgres_url(text):
        parts = urlsplit(text)
        if parts.fragment:
            raise GuardrailConfigError(f"{what} URL {redact_url(text)!r} must not have a #fragment")
        return DatabaseURL("postgresql", dsn=text)
    if text.startswith(_SQLITE_PREFIX):
        rest = unquote(text[len(_SQLITE_PREFIX) :])
        if not rest:
            raise GuardrailConfigError(f"{what} URL {text!r} names no file (sqlite:///PATH)")
        return DatabaseURL("sqlite", path=Path(rest).expanduser())
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme:
        raise GuardrailConfigError(
            f"{what} {redact_url(text)!r}: unknown scheme {scheme!r} "
            "(use a file path, sqlite:///PATH or postgresql://...)"
        )
    return DatabaseURL("sqlite", path=Path(text).expanduser())


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and ``repr``)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if not password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
