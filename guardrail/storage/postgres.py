"""PostgreSQL plumbing: a connection pool per process, versioned migrations, notification waits.

Needs the ``postgres`` extra (``pip install 'finece-guardrail[postgres]'``: psycopg 3 and
psycopg_pool). :class:`PostgresDatabase` is what the review queue and the audit log build on:

* a :class:`psycopg_pool.ConnectionPool`, opened on first use and again after ``fork`` (a pool
  never crosses processes); every operation is one transaction;
* :meth:`PostgresDatabase.run` retries an operation whose connection was lost (a server restart,
  a failover) until ``retry_s`` has passed, so operations must be idempotent or tell a retry
  apart themselves;
* :meth:`PostgresDatabase.migrate` applies a component's numbered migrations once, under an
  advisory lock, in one transaction, and records the version in ``guardrail_schema``;
* :class:`Listener` keeps one ``LISTEN`` connection per process and channel and wakes the
  waiters subscribed to a topic when a matching ``NOTIFY`` arrives (and all of them after a
  reconnect, since notifications sent meanwhile are lost).

The database is an untrusted peer for what it says back: the URL is checked before the first
connection (:func:`~guardrail.storage.url.check_postgres_url`, then libpq's own parser), so a
malformed one fails at once with the part that is wrong; the URL's passwords never appear in
an error, a ``repr`` or a log record, ours or psycopg's (:func:`install_psycopg_log_redaction`
filters the ``psycopg`` and ``psycopg.pool`` loggers with the shared redaction and with the
exact secrets of every URL opened in this process).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from guardrail._optional import require
from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError
from guardrail.redaction import install_log_redaction
from guardrail.storage.url import check_postgres_url, redact_url, scrub_secrets, url_secrets

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = [
    "PSYCOPG_LOGGERS",
    "Listener",
    "PostgresDatabase",
    "Subscription",
    "install_psycopg_log_redaction",
]

T = TypeVar("T")

ErrorFactory = Callable[[str, bool], GuardrailRuntimeError]
"""Builds the caller's error type from a message and whether retrying may help."""

# libpq's FATAL messages for a server that will accept us again soon (not a configuration
# error): starting up, shutting down, in recovery, out of connection slots.
_TRANSIENT = ("starting up", "shutting down", "recovery", "too many", "remaining connection")

_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS guardrail_schema"
    " (component text PRIMARY KEY, version integer NOT NULL)"
)


PSYCOPG_LOGGERS = ("psycopg", "psycopg.pool")
"""The loggers psycopg and psycopg_pool write to (the pool's warnings quote libpq's errors)."""


class _SecretsFilter(logging.Filter):
    """Masks the exact secrets of the database URLs opened in this process.

    A password that libpq quotes in a parse error has no shape the shared redaction could
    recognise; its exact value does.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, secrets: tuple[str, ...]) -> None:
        """Also mask ``secrets`` from now on."""
        with self._lock:
            known = set(self._secrets) | set(secrets)
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and exception text) without the secrets."""
        secrets = self._secrets
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: show it unformatted, still scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg = scrub_secrets(message, secrets)
        record.args = None
        if record.exc_info is not None and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub_secrets(text, secrets)
        return True


_SECRETS_FILTER = _SecretsFilter()


def install_psycopg_log_redaction(secrets: tuple[str, ...] = ()) -> None:
    """Redact the records of psycopg's loggers: by shape, and ``secrets`` exactly (idempotent)."""
    _SECRETS_FILTER.add(secrets)
    names = set(PSYCOPG_LOGGERS) | {
        name
        for name in logging.Logger.manager.loggerDict
        if name.startswith(tuple(f"{root}." for root in PSYCOPG_LOGGERS))
    }
    for name in sorted(names):
        logger = logging.getLogger(name)
        if _SECRETS_FILTER not in logger.filters:
            logger.addFilter(_SECRETS_FILTER)
    install_log_redaction(tuple(sorted(names)))


def _psycopg() -> Any:
    require("psycopg_pool", "postgres")
    return require("psycopg", "postgres")


def _lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection (not the statement) failed: worth a retry."""
    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    sqlstate = getattr(exc, "sqlstate", None)
    # No sqlstate: the socket broke. Class 08 (connection exception) and 57P01-57P03
    # (admin/crash shutdown, cannot connect now) are the server going away.
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03")


class PostgresDatabase:
    """One PostgreSQL database used by one store.

    ``url`` is a libpq URL (``postgresql://user:password@host:5432/db``). ``max_size`` bounds the
    pool of this process; ``retry_s`` is how long an operation keeps retrying a lost connection
    (``0``: never) and ``connect_timeout_s`` how long one connection attempt may take.
    ``error`` builds the store's own error type.
    """

    def __init__(
        self,
        url: str,
        *,
        what: str,
        error: ErrorFactory,
        min_size: int = 1,
        max_size: int = 4,
        retry_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise GuardrailConfigError(
                f"{what}: pool sizes need 0 <= min_size <= max_size and max_size >= 1, "
                f"got {min_size} and {max_size}"
            )
        if retry_s < 0 or connect_timeout_s <= 0:
            raise GuardrailConfigError(
                f"{what}: retry_s must be >= 0 and connect_timeout_s > 0, "
                f"got {retry_s!r} and {connect_timeout_s!r}"
            )
        check_postgres_url(url, what=what)
        psycopg = _psycopg()
        self._secrets = url_secrets(url)
        install_psycopg_log_redaction(self._secrets)
        try:
            psycopg.conninfo.conninfo_to_dict(url)  # libpq's own parser: parameter names
        except psycopg.Error as exc:
            raise GuardrailConfigError(
                f"{what} URL {redact_url(url)!r}: {self.scrub(str(exc).strip())}"
            ) from None
        self.url = url
        self.what = what
        self._error = error
        self._min_size = min_size
        self._max_size = max_size
        self._retry_s = retry_s
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Any] | None = None
        self._pid = os.getpid()
        self._listeners: dict[str, Listener] = {}
        self._closed = False
        self._probed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r})"

    @property
    def where(self) -> str:
        """The URL without its passwords, for messages."""
        return redact_url(self.url)

    def scrub(self, text: str) -> str:
        """``text`` without this URL's secrets (exact values) and redacted by shape."""
        return scrub_secrets(text, self._secrets)

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of every connection (row factory, timeouts)."""
        from psycopg.rows import dict_row

        return {
            "row_factory": dict_row,
            "connect_timeout": max(1, round(self._connect_timeout_s)),
            "application_name": "finece-guardrail",
        }

    # ----------------------------------------------------------------------- pool
    def _get_pool(self) -> ConnectionPool[Any]:
        if self._closed:
            raise self._error(f"{self.what} {self.where} is closed", False)
        with self._lock:
            if self._pool is not None and self._pid != os.getpid():
                # Forked: the parent's sockets are not ours to use or to close.
                self._pool = None
                self._listeners = {}
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                if not self._probed:
                    self._probe()
                    self._probed = True
                self._pid = os.getpid()
                self._pool = ConnectionPool(
                    self.url,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    kwargs=self.connect_kwargs(),
                    open=True,
                    check=ConnectionPool.check_connection,
                    timeout=self._connect_timeout_s,
                    reconnect_timeout=max(self._retry_s, 1.0),
                    name=f"guardrail-{os.getpid()}",
                )
            return self._pool

    def _probe(self) -> None:
        """Connect once before the first pool, to fail fast where retrying cannot help.

        A server that refuses us for good (no such database or role, failed authentication) is
        a configuration error now, not a pool that retries for ``retry_s``. A server that
        cannot be reached is left to the pool's retries (it may be restarting).
        """
        import psycopg

        try:
            psycopg.connect(self.url, **self.connect_kwargs()).close()
        except psycopg.Error as exc:
            text = " ".join(str(exc).split())
            if "FATAL:" in text and not any(word in text for word in _TRANSIENT):
                raise GuardrailConfigError(
                    f"{self.what} {self.where}: the server refused the connection: "
                    f"{self.scrub(text)}"
                ) from None

    def close(self) -> None:
        """Close the pool and the listeners of this process; further calls are an error."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            listeners, self._listeners = list(self._listeners.values()), {}
            mine = self._pid == os.getpid()
        if mine:
            for listener in listeners:
                listener.close()
            if pool is not None:
                pool.close()

    # ----------------------------------------------------------------- operations
    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in one transaction, committed when the block ends.

        Rolled back when the block raises; no retry (see :meth:`run`).
        """
        with self._get_pool().connection() as conn:
            yield conn

    def run(self, operation: Callable[[psycopg.Connection[Any]], T], *, retry: bool = True) -> T:
        """Run ``operation`` in one transaction; retry it on a lost connection (``retry_s``).

        Other database errors become the store's error at once (not retryable), and so does a
        lost connection once ``retry_s`` has passed (retryable).
        """
        import psycopg

        deadline = time.monotonic() + (self._retry_s if retry else 0.0)
        delay = 0.05
        while True:
            try:
                with self.transaction() as conn:
                    return operation(conn)
            except psycopg.Error as exc:
                lost = _lost_connection(exc)
                if not lost or time.monotonic() + delay > deadline:
                    message = self.scrub(_describe(exc))
                    raise self._error(f"{self.what} {self.where}: {message}", lost) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def migrate(self, component: str, migrations: Sequence[str]) -> int:
        """Bring ``component`` to version ``len(migrations)``; return the version found first.

        ``migrations[i]`` takes the schema from version ``i`` to ``i + 1`` (statements separated
        by ``;``). A database at a newer version than this code knows is refused.
        """
        target = len(migrations)

        def current(conn: psycopg.Connection[Any]) -> int:
            conn.execute(_SCHEMA_TABLE)
            row = conn.execute(
                "SELECT version FROM guardrail_schema WHERE component = %s", (component,)
            ).fetchone()
            return 0 if row is None else int(row["version"])

        def upgrade(conn: psycopg.Connection[Any]) -> int:
            # One migrator at a time per database and component; the others wait, then see
            # the new version and do nothing.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(component),))
            found = current(conn)
            for version in range(found, target):
                for statement in migrations[version].split(";"):
                    if statement.strip():
                        conn.execute(statement.encode())
            if found < target:
                conn.execute(
                    "INSERT INTO guardrail_schema (component, version) VALUES (%s, %s)"
                    " ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                    (component, target),
                )
            return found

        found = self.run(_read_version(component))
        if found < target:
            found = self.run(upgrade)
        if found > target:
            raise GuardrailConfigError(
                f"{self.where}: {component} schema version {found} is newer than this "
                f"guardrail supports ({target}); upgrade finece-guardrail"
            )
        return found

    def listener(self, channel: str) -> Listener:
        """The ``LISTEN`` connection of this process on ``channel`` (started on first use)."""
        self._get_pool()  # refuses a closed database; forgets the parent's listeners
        with self._lock:
            listener = self._listeners.get(channel)
            if listener is None:
                listener = Listener(self, channel)
                self._listeners[channel] = listener
        listener.start()
        return listener


def _read_version(component: str) -> Callable[[psycopg.Connection[Any]], int]:
    def read(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT to_regclass('guardrail_schema') IS NOT NULL AS present"
        ).fetchone()
        if row is None or not row["present"]:
            return 0
        found = conn.execute(
            "SELECT version FROM guardrail_schema WHERE component = %s", (component,)
        ).fetchone()
        return 0 if found is None else int(found["version"])

    return read


def _lock_key(component: str) -> int:
    return zlib.crc32(f"guardrail_schema:{component}".encode()) - 2**31


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Subscription:
    """A waiter's interest in topics of a :class:`Listener`; :meth:`wait` returns on news."""

    def __init__(self, listener: Listener, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self._listener = listener
        self._event = threading.Event()

    def matches(self, topic: str) -> bool:
        """Whether a notification about ``topic`` concerns this waiter."""
        return any(topic.startswith(prefix) for prefix in self.prefixes)

    def arm(self) -> None:
        """Forget earlier news; call before checking the state the news would change."""
        self._event.clear()

    def wake(self) -> None:
        """Mark news (called by the listener)."""
        self._event.set()

    def wait(self, timeout_s: float) -> bool:
        """Block until news arrived since :meth:`arm` or ``timeout_s`` passed."""
        return self._event.wait(max(0.0, timeout_s))

    def close(self) -> None:
        """Stop hearing news."""
        self._listener.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Listener:
    """One ``LISTEN`` connection on ``channel`` in a background thread.

    Payloads are topics (``decided:<id>``, ``enqueued:<queue>``); each subscription whose prefix
    matches is woken. After a lost connection the thread reconnects and wakes every subscriber,
    who then re-read the state.
    """

    _POLL_S = 0.5  # how often the thread looks up from the socket to see whether it must stop

    def __init__(self, database: PostgresDatabase, channel: str) -> None:
        if not channel.isidentifier():
            raise GuardrailConfigError(f"notification channel {channel!r} is not an identifier")
        self._database = database
        self._channel = channel
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start the thread once and wait until it listens (or its first connection failed)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"guardrail-listen-{self._channel}", daemon=True
                )
                self._thread.start()
        if not self._ready.wait(self._database._connect_timeout_s + 5.0):
            reason = self._database.scrub(str(self._error or "timed out"))
            raise self._database._error(
                f"{self._database.what} {self._database.where}: could not LISTEN on "
                f"{self._channel} ({reason})",
                True,
            )

    def subscribe(self, *prefixes: str) -> Subscription:
        """Hear notifications whose topic starts with one of ``prefixes``."""
        subscription = Subscription(self, prefixes)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop waking ``subscription``."""
        with self._lock:
            self._subscriptions.discard(subscription)

    def close(self) -> None:
        """Stop the thread (it notices within half a second)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _wake(self, topic: str | None) -> None:
        with self._lock:
            targets = list(self._subscriptions)
        for subscription in targets:
            if topic is None or subscription.matches(topic):
                subscription.wake()

    def _run(self) -> None:
        import psycopg

        delay = 0.05
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._database.url, autocommit=True, **self._database.connect_kwargs()
                ) as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    self._ready.set()
                    self._wake(None)  # anything sent while we were away is lost: re-read
                    delay = 0.05
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=self._POLL_S):
                            self._wake(notify.payload)
            except psycopg.Error as exc:
                self._error = exc
                self._stop.wait(delay)
                delay = min(delay * 2, 1.0)
                if delay >= 1.0:
                    self._ready.set()  # let start() return; waiters time out on their own
