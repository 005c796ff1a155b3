"""The audit trail: every checkpoint, decision and action of every guarded run.

>>> from guardrail.audit import AuditRun, open_audit_log
>>> with AuditRun(open_audit_log(), policy="strict", policy_version=3) as run:  # doctest: +SKIP
...     run.action("retry", {"attempt": 2})
"""

from guardrail.audit.backends import open_audit_log
from guardrail.audit.errors import AuditWriteError
from guardrail.audit.jsonl import JsonlAuditLog
from guardrail.audit.log import AuditLog, default_audit_log_path
from guardrail.audit.postgres import PostgresAuditLog
from guardrail.audit.records import AuditKind, AuditRecord
from guardrail.audit.redact import REDACTED, is_secret_key, redact
from guardrail.audit.run import AuditRun
from guardrail.audit.sink import AuditSink
from guardrail.audit.sqlite import SQLiteAuditLog

__all__ = [
    "REDACTED",
    "AuditKind",
    "AuditLog",
    "AuditRecord",
    "AuditRun",
    "AuditSink",
    "AuditWriteError",
    "JsonlAuditLog",
    "PostgresAuditLog",
    "SQLiteAuditLog",
    "default_audit_log_path",
    "is_secret_key",
    "open_audit_log",
    "redact",
]
