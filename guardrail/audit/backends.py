"""How a path picks an audit log backend: SQLite for database files, JSON lines otherwise."""

from __future__ import annotations

import os
from pathlib import Path

from guardrail.audit.jsonl import JsonlAuditLog
from guardrail.audit.log import AuditLog, default_audit_log_path
from guardrail.audit.sqlite import SQLiteAuditLog

__all__ = ["SQLITE_SUFFIXES", "open_audit_log"]

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""File suffixes opened as a :class:`~guardrail.audit.sqlite.SQLiteAuditLog`."""


def open_audit_log(path: str | os.PathLike[str] | None = None) -> AuditLog:
    """The audit log at ``path`` (default :func:`default_audit_log_path`).

    A ``.db``, ``.sqlite`` or ``.sqlite3`` file is an :class:`~guardrail.audit.sqlite.
    SQLiteAuditLog` (it may be the review database); anything else a JSON-lines log.
    """
    resolved = default_audit_log_path() if path is None else Path(path).expanduser()
    if resolved.suffix.lower() in SQLITE_SUFFIXES:
        return SQLiteAuditLog(resolved)
    return JsonlAuditLog(resolved)
