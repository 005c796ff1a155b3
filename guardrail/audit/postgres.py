"""The audit log as a table on a PostgreSQL server, shared by every worker of a fleet.

Needs the ``postgres`` extra. Each record is one insert on a pooled connection. A record carries
a unique id, so the insert retried after a lost connection (the server restarting) never stores
it twice. The schema is created and migrated on first use (component ``audit`` in
``guardrail_schema``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

from guardrail.audit.errors import AuditWriteError
from guardrail.audit.log import RecordingLog, check_tail
from guardrail.audit.records import AuditKind, AuditRecord
from guardrail.storage.postgres import PostgresDatabase
from guardrail.storage.url import redact_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresAuditLog"]

COMPONENT = "audit"
MIGRATIONS = (
    """
    CREATE TABLE audit_records (
        seq            bigserial PRIMARY KEY,
        record_id      uuid NOT NULL UNIQUE,
        ts             timestamptz NOT NULL,
        run_id         text NOT NULL,
        kind           text NOT NULL,
        policy         text,
        policy_version text,
        duration_s     double precision,
        elapsed_s      double precision,
        payload        jsonb NOT NULL,
        trace_id       text,
        span_id        text
    );
    CREATE INDEX audit_records_run ON audit_records (run_id, seq);
    CREATE INDEX audit_records_trace ON audit_records (trace_id) WHERE trace_id IS NOT NULL
    """,
)
_INSERT = (
    "INSERT INTO audit_records (record_id, ts, run_id, kind, policy, policy_version,"
    " duration_s, elapsed_s, payload, trace_id, span_id)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (record_id) DO NOTHING"
)


def _write_error(message: str, retryable: bool) -> AuditWriteError:
    return AuditWriteError(message, retryable=retryable)


def _from_row(row: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord(
        ts=row["ts"].astimezone(UTC),
        run_id=row["run_id"],
        kind=AuditKind(row["kind"]),
        policy=row["policy"],
        policy_version=row["policy_version"],
        payload=row["payload"],
        duration_s=row["duration_s"],
        elapsed_s=row["elapsed_s"],
        trace_id=row["trace_id"],
        span_id=row["span_id"],
    )


class PostgresAuditLog(RecordingLog):
    """An :class:`~guardrail.audit.log.AuditLog` in the ``audit_records`` table at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 4,
        retry_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._db = PostgresDatabase(
            url,
            what="audit database",
            error=_write_error,
            min_size=1,
            max_size=max_connections,
            retry_s=retry_s,
            connect_timeout_s=connect_timeout_s,
        )
        try:
            self._db.migrate(COMPONENT, MIGRATIONS)
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={redact_url(self._db.url)!r})"

    def __enter__(self) -> PostgresAuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._db.close()

    def _write(self, record: AuditRecord) -> None:
        """Insert the record."""
        from psycopg.types.json import Jsonb

        from guardrail.review._sqlite import dumps

        params = (
            uuid.uuid4(),
            record.ts,
            record.run_id,
            record.kind.value,
            record.policy,
            record.policy_version,
            record.duration_s,
            record.elapsed_s,
            Jsonb(record.payload, dumps=dumps),
            record.trace_id,
            record.span_id,
        )

        def insert(conn: psycopg.Connection[Any]) -> None:
            conn.execute(_INSERT, params)

        self._db.run(insert)

    def read_run(self, run_id: str) -> list[AuditRecord]:
        """Every record of one run, oldest first."""
        rows = self._db.run(
            lambda conn: conn.execute(
                "SELECT * FROM audit_records WHERE run_id = %s ORDER BY seq", (run_id,)
            ).fetchall()
        )
        return [_from_row(row) for row in rows]

    def tail(self, n: int = 20) -> list[AuditRecord]:
        """The last ``n`` records, oldest first."""
        check_tail(n)
        rows = self._db.run(
            lambda conn: conn.execute(
                "SELECT * FROM (SELECT * FROM audit_records ORDER BY seq DESC LIMIT %s) AS last"
                " ORDER BY seq",
                (n,),
            ).fetchall()
        )
        return [_from_row(row) for row in rows]
