"""One monotonic deadline over a whole HTTP call: connect, write, headers and body.

httpx's timeouts bound each socket operation: a peer that sends one byte every 0.4 s never
trips a 1 s read timeout and holds the call as long as it likes. Here the network backend of
httpx's own transport is wrapped so that every operation (TCP connect, TLS handshake, each
write, each read) waits at most what is left of the deadline of the call in progress, and one
that starts past it fails at once with a timeout. The deadline is a context variable set by
:func:`call_deadline` around a call, so connections of the pool serve any call and each call
brings its own deadline; outside one, operations keep httpx's timeouts.

Only the pool's network backend is replaced (``httpcore``'s public ``NetworkBackend``
interface); :func:`deadline_transport` checks that httpx still exposes it and fails loudly
otherwise, rather than run without deadlines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

__all__ = ["call_deadline", "current_deadline", "deadline_transport", "remaining_s"]

_DEADLINE: ContextVar[float | None] = ContextVar("guardrail_remote_deadline", default=None)
_WRITE_CHUNK = 64 * 1024


def current_deadline() -> float | None:
    """The ``time.monotonic()`` deadline of the call in progress in this context, if any."""
    return _DEADLINE.get()


def remaining_s() -> float | None:
    """Seconds left before the current deadline (negative once past; ``None``: no deadline)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def call_deadline(budget_s: float | None) -> Iterator[float | None]:
    """Within the block, network operations end by ``now + budget_s`` (or an earlier deadline).

    Nested blocks keep the earliest deadline, so an outer budget (the guarded call's) bounds
    an inner one (a scorer's own). ``None`` adds no deadline. Yields the deadline in force.
    """
    outer = _DEADLINE.get()
    if budget_s is None:
        yield outer
        return
    deadline = time.monotonic() + budget_s
    if outer is not None:
        deadline = min(deadline, outer)
    token = _DEADLINE.set(deadline)
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    left = remaining_s()
    if left is None:
        return timeout
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the current call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # in chunks, so that a peer that reads slowly meets the deadline between them
        view = memoryview(buffer)
        for start in range(0, len(view), _WRITE_CHUNK):
            chunk = bytes(view[start : start + _WRITE_CHUNK])
            self._inner.write(chunk, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Wraps a backend so that its streams (and their connects) keep the call's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport(**options: Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport(**options)`` whose network I/O keeps the call's deadline."""
    transport = httpx.HTTPTransport(**options)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.NetworkBackend):
        raise RuntimeError(
            "this httpx/httpcore version does not expose its connection pool's network backend; "
            "the remote scorer cannot enforce its deadline with it"
        )
    pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return transport
