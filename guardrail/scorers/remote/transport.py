"""JSON over HTTP for remote scorers: a pooled httpx client, retries, one deadline per call.

Every call has a deadline (the policy's latency budget, end to end): each attempt's timeout is
what is left of it, and a retry sleeps no longer than what is left. Connection errors, timeouts
of one attempt, 5xx and 429 are retried (tenacity, exponential backoff with jitter); anything
else (a 4xx, a body that is not JSON) fails at once. What is left when the retries or the
deadline run out is a :class:`RemoteScorerError` (or :class:`~guardrail.errors.ScorerTimeoutError`
for the deadline) that the guard turns into the policy's ``on_error`` outcome.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from guardrail._optional import require
from guardrail.errors import ScorerTimeoutError, ScorerUnavailableError

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpTransport", "RemoteScorerError"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RemoteScorerError(ScorerUnavailableError):
    """A remote scorer call failed; ``is_retryable`` says whether the service may recover."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.is_retryable = retryable


class _Transient(Exception):
    """One attempt failed in a way a later attempt may not (connection, 5xx, 429)."""


class _DeadlineExceeded(Exception):
    """The call's deadline passed before an attempt could start."""


class HttpTransport:
    """POST JSON to ``base_url`` with pooled connections, retries and a per-call deadline.

    ``transport`` replaces httpx's network transport (tests pass an ``httpx.MockTransport``).
    ``max_attempts`` bounds the tries of one call; the deadline bounds its time.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float = 2.0,
        max_connections: int = 64,
        max_attempts: int = 4,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._httpx = require("httpx", "all")  # a base dependency: only a broken install lacks it
        self.base_url = base_url.rstrip("/")
        self.connect_timeout_s = connect_timeout_s
        self.max_attempts = max_attempts
        self._clock = clock
        self._sleep = sleep
        self._options: dict[str, Any] = {
            "limits": self._httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            "headers": dict(headers or {}),
            "transport": transport,
        }
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        """The pooled client, created on first use (shared by every thread)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._httpx.Client(**self._options)
        return self._client

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        budget_s: float,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POST ``body`` to ``path``; the parsed JSON answer, within ``budget_s`` seconds."""
        from tenacity import RetryError, Retrying, retry_if_exception_type

        url = f"{self.base_url}{path}"
        deadline = self._clock() + budget_s
        attempts = 0
        last: BaseException | None = None
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=self._stop(deadline),
            wait=self._wait(deadline),
            sleep=self._sleep,
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    try:
                        return self._attempt(url, body, deadline, headers)
                    except _Transient as exc:
                        last = exc.__cause__ or exc
                        raise
        except RetryError:
            pass
        except _DeadlineExceeded:
            pass
        what = f"POST {url}: {attempts} attempt(s)"
        cause = f"{type(last).__name__}: {last}" if last is not None else "no attempt finished"
        if self._clock() >= deadline:
            raise ScorerTimeoutError(
                f"{what} within the latency budget of {budget_s:g}s; last error: {cause}"
            ) from last
        raise RemoteScorerError(f"{what} failed; last error: {cause}", retryable=True) from last

    def close(self) -> None:
        """Close pooled connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ----------------------------------------------------------------- internals
    def _attempt(
        self, url: str, body: Mapping[str, Any], deadline: float, headers: Mapping[str, str] | None
    ) -> Any:
        httpx = self._httpx
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise _DeadlineExceeded
        timeout = httpx.Timeout(remaining, connect=min(remaining, self.connect_timeout_s))
        try:
            response = self.client.post(url, json=dict(body), timeout=timeout, headers=headers)
        except httpx.TransportError as exc:  # connect/read errors and timeouts
            raise _Transient(str(exc)) from exc
        if response.status_code in RETRY_STATUSES:
            raise _Transient(f"HTTP {response.status_code}") from RemoteScorerError(
                f"HTTP {response.status_code}: {response.text[:300]}", retryable=True
            )
        if response.status_code >= 400:
            raise RemoteScorerError(
                f"POST {url} answered HTTP {response.status_code}: {response.text[:500]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise RemoteScorerError(
                f"POST {url} answered a body that is not JSON: {response.text[:200]!r}"
            ) from exc

    def _stop(self, deadline: float) -> Callable[[Any], bool]:
        def stop(state: Any) -> bool:
            return bool(state.attempt_number >= self.max_attempts or self._clock() >= deadline)

        return stop

    def _wait(self, deadline: float) -> Callable[[Any], float]:
        def wait(state: Any) -> float:
            backoff = min(1.0, 0.05 * 2 ** (state.attempt_number - 1)) * random.uniform(0.5, 1.0)
            return float(max(0.0, min(backoff, deadline - self._clock())))

        return wait
