"""How a location picks an audit log backend: PostgreSQL URLs, SQLite files, else JSON lines."""

from __future__ import annotations

import os

from guardrail.audit.jsonl import JsonlAuditLog
from guardrail.audit.log import ENV_AUDIT_LOG, AuditLog, default_audit_log_path
from guardrail.audit.sqlite import SQLiteAuditLog

__all__ = ["SQLITE_SUFFIXES", "open_audit_log"]

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""File suffixes opened as a :class:`~guardrail.audit.sqlite.SQLiteAuditLog`."""


def open_audit_log(path: str | os.PathLike[str] | None = None) -> AuditLog:
    """The audit log at ``path`` (default :func:`default_audit_log_path`).

    A ``postgresql://`` URL is a :class:`~guardrail.audit.postgres.PostgresAuditLog`; a
    ``sqlite:///PATH`` URL, or a ``.db``, ``.sqlite`` or ``.sqlite3`` file, an
    :class:`~guardrail.audit.sqlite.SQLiteAuditLog` (it may be the review database); anything
    else a JSON-lines log.
    """
    from guardrail.storage.url import parse_database_url

    target = path if path is not None else os.environ.get(ENV_AUDIT_LOG, "").strip() or None
    location = parse_database_url(
        default_audit_log_path() if target is None else target, what="audit log"
    )
    if location.backend == "postgresql":
        from guardrail.audit.postgres import PostgresAuditLog

        assert location.dsn is not None
        return PostgresAuditLog(location.dsn)
    assert location.path is not None
    resolved = location.path
    is_sqlite_url = os.fspath(target or "").startswith("sqlite:///")
    if is_sqlite_url or resolved.suffix.lower() in SQLITE_SUFFIXES:
        return SQLiteAuditLog(resolved)
    return JsonlAuditLog(resolved)
