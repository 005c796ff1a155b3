"""The audit log as a table in an SQLite file, which may be the review queue's database."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from guardrail.audit.errors import AuditWriteError
from guardrail.audit.log import ENV_AUDIT_LOG, RecordingLog, check_tail
from guardrail.audit.records import AuditKind, AuditRecord
from guardrail.errors import GuardrailConfigError
from guardrail.review import _sqlite

__all__ = ["SQLiteAuditLog"]

COMPONENT = "audit"
_V1 = """
CREATE TABLE audit_records (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_us          INTEGER NOT NULL,
    run_id         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    policy         TEXT,
    policy_version TEXT,
    duration_s     REAL,
    elapsed_s      REAL,
    payload        TEXT NOT NULL CHECK (json_valid(payload))
);
CREATE INDEX audit_records_run ON audit_records (run_id, seq);
"""
_V2 = """
ALTER TABLE audit_records ADD COLUMN trace_id TEXT;
ALTER TABLE audit_records ADD COLUMN span_id TEXT;
"""
MIGRATIONS = (_V1, _V2)
"""``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1`` (2: trace and span ids)."""
SCHEMA_VERSION = len(MIGRATIONS)
_INSERT = (
    "INSERT INTO audit_records (ts_us, run_id, kind, policy, policy_version, duration_s,"
    " elapsed_s, payload, trace_id, span_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _from_row(row: sqlite3.Row) -> AuditRecord:
    return AuditRecord(
        ts=_sqlite.from_us(row["ts_us"]),
        run_id=row["run_id"],
        kind=AuditKind(row["kind"]),
        policy=row["policy"],
        policy_version=row["policy_version"],
        payload=json.loads(row["payload"]),
        duration_s=row["duration_s"],
        elapsed_s=row["elapsed_s"],
        trace_id=row["trace_id"],
        span_id=row["span_id"],
    )


class SQLiteAuditLog(RecordingLog):
    """An :class:`~guardrail.audit.log.AuditLog` in the ``audit_records`` table of ``path``.

    WAL mode, one short transaction per record; safe from several threads and processes.
    ``synchronous="NORMAL"`` (the default) survives a crash of the process; ``"FULL"`` also
    power loss.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = 30.0,
        synchronous: _sqlite.Synchronous = "NORMAL",
    ) -> None:
        if busy_timeout_s <= 0:
            raise GuardrailConfigError(f"busy_timeout_s must be > 0, got {busy_timeout_s!r}")
        self._path = _sqlite.resolve_path(
            path, create=True, what="audit database", env=ENV_AUDIT_LOG
        )
        self._busy_timeout_s = busy_timeout_s
        self._synchronous: _sqlite.Synchronous = synchronous
        with self._errors():
            _sqlite.prepare(self._path, busy_timeout_s, COMPONENT, MIGRATIONS)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self._path)!r})"

    def __enter__(self) -> SQLiteAuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: connections are opened per call."""

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise AuditWriteError(
                f"audit database {self._path}: {exc}", retryable=_sqlite.is_busy(exc)
            ) from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with (
            self._errors(),
            _sqlite.connection(self._path, self._busy_timeout_s, self._synchronous) as conn,
        ):
            yield conn

    def _write(self, record: AuditRecord) -> None:
        """Insert the record."""
        params = (
            _sqlite.to_us(record.ts),
            record.run_id,
            record.kind.value,
            record.policy,
            record.policy_version,
            record.duration_s,
            record.elapsed_s,
            _sqlite.dumps(record.payload),
            record.trace_id,
            record.span_id,
        )
        with self._connect() as conn, _sqlite.transaction(conn):
            conn.execute(_INSERT, params)

    def read_run(self, run_id: str) -> list[AuditRecord]:
        """Every record of one run, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM audit_records WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
        return [_from_row(row) for row in rows]

    def tail(self, n: int = 20) -> list[AuditRecord]:
        """The last ``n`` records, oldest first."""
        check_tail(n)
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM (SELECT * FROM audit_records ORDER BY seq DESC LIMIT ?)"
                " ORDER BY seq",
                (n,),
            ).fetchall()
        return [_from_row(row) for row in rows]
