"""SQLite plumbing shared by the review queue and the SQLite audit log.

``guardrail_schema`` keeps one version per component, so the review tables and the audit table
can live in one database file. Times are stored as integer microseconds since the epoch.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from guardrail.errors import GuardrailConfigError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Synchronous = Literal["NORMAL", "FULL"]


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact, sortable)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_us(value: int) -> datetime:
    """The aware UTC datetime of :func:`to_us` microseconds."""
    return _EPOCH + timedelta(microseconds=value)


def dumps(value: Any) -> str:
    """Compact, strict JSON (no NaN) for a JSON column."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def resolve_path(path: str | os.PathLike[str], *, create: bool, what: str, env: str) -> Path:
    """Check a database path (a file, not ``:memory:``) and create its folder when allowed."""
    resolved = Path(path).expanduser()
    text = str(resolved)
    if text == ":memory:" or text.startswith("file:"):
        raise GuardrailConfigError(f"{what} must be a file path, not {text!r}")
    if not resolved.exists():
        if not create:
            raise GuardrailConfigError(f"no {what} at {resolved} (pass a path or set {env})")
        try:
            resolved.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GuardrailConfigError(f"cannot create {what} {resolved}: {exc}") from exc
    return resolved


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether the error is another connection holding a lock (worth retrying later)."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def connect(path: Path, busy_timeout_s: float, synchronous: Synchronous) -> sqlite3.Connection:
    """An autocommit connection (explicit ``BEGIN`` for writes) with ``sqlite3.Row`` rows."""
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA synchronous={synchronous}")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def connection(
    path: Path, busy_timeout_s: float, synchronous: Synchronous
) -> Iterator[sqlite3.Connection]:
    """A connection that is closed when the block ends."""
    conn = connect(path, busy_timeout_s, synchronous)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if the block raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _enable_wal(conn: sqlite3.Connection, path: Path, busy_timeout_s: float) -> None:
    # Switching a fresh file to WAL takes an exclusive lock and can report "locked" without
    # consulting the busy handler when several processes open it at once; retry until the
    # busy timeout has passed.
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    if str(mode).lower() != "wal":
        raise GuardrailConfigError(
            f"could not switch {path} to WAL mode (got {mode!r}); "
            "keep the database on a local filesystem"
        )


def _version(conn: sqlite3.Connection, component: str) -> int | None:
    try:
        row = conn.execute(
            "SELECT version FROM guardrail_schema WHERE component = ?", (component,)
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return None if row is None else int(row[0])


def prepare(path: Path, busy_timeout_s: float, component: str, migrations: Sequence[str]) -> None:
    """Enable WAL, bring ``component`` to version ``len(migrations)``, refuse a newer version.

    ``migrations[i]`` takes the schema from version ``i`` to ``i + 1`` (statements separated by
    ``;``), all in one transaction. Only a database behind this code writes; later opens just
    read the version, so opening never waits for another process's write lock.
    """
    target = len(migrations)
    with connection(path, busy_timeout_s, "FULL") as conn:
        found = _version(conn, component)
        if found is None or found < target:
            _enable_wal(conn, path, busy_timeout_s)
            with transaction(conn):
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS guardrail_schema"
                    " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
                )
                found = _version(conn, component) or 0  # another process may have won the race
                for version in range(found, target):
                    for statement in migrations[version].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                if found < target:
                    conn.execute(
                        "INSERT INTO guardrail_schema (component, version) VALUES (?, ?)"
                        " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                        (component, target),
                    )
        if found > target:
            raise GuardrailConfigError(
                f"{path}: {component} schema version {found} is newer than this "
                f"guardrail supports ({target}); upgrade finece-guardrail"
            )
