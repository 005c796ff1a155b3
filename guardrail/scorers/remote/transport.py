"""JSON over HTTP for remote scorers: a pooled httpx client, retries, one deadline per call.

The scorer service is an untrusted peer. Every call has one monotonic deadline (the latency
budget, end to end) that bounds connecting, sending, waiting and reading the whole body: each
network operation waits at most what is left of it (:mod:`guardrail.scorers.remote.deadline`),
so a service that trickles its answer cannot hold the call past its budget, and a retry
sleeps no longer than what is left. An answer that arrives past the deadline is discarded.
Connection errors, timeouts of one attempt, 5xx and 429 are retried (tenacity, exponential
backoff with jitter); anything else (a 4xx, a body that is not JSON or is too large) fails at
once. What is left when the retries or the deadline run out is a :class:`RemoteScorerError`
(or :class:`~guardrail.errors.ScorerTimeoutError` for the deadline) that the guard turns into
the policy's ``on_error`` outcome.

Credentials travel in headers only: ``user:password@`` in the URL becomes HTTP Basic
authorization and leaves the URL, and every message shows the URL as
:func:`~guardrail.redaction.safe_url` does (no user information, no query). Every text that
came from the peer (an error body) is scrubbed of the credentials this client sends, redacted
by shape, stripped of control characters and cut short before it is part of an error. The
request body is made encodable (lone surrogates become U+FFFD) before it is sent.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from guardrail.errors import GuardrailConfigError, ScorerTimeoutError, ScorerUnavailableError
from guardrail.redaction import (
    REDACTED,
    bounded,
    install_log_redaction,
    is_secret_key,
    printable,
    redact_text,
)
from guardrail.redaction import safe_url as _safe_url

__all__ = ["HttpTransport", "RemoteScorerError", "encodable_json", "join_url"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""The most a scorer service may answer to one call (a larger body is an error)."""
_EXCERPT = 300
_SURROGATES = re.compile("[\ud800-\udfff]")


class RemoteScorerError(ScorerUnavailableError):
    """A remote scorer call failed; ``is_retryable`` says whether the service may recover."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.is_retryable = retryable


class _Transient(Exception):
    """One attempt failed in a way a later attempt may not (connection, 5xx, 429)."""


class _DeadlineExceeded(Exception):
    """The call's deadline passed before an attempt could start."""


def join_url(base: str, route: str) -> str:
    """``route`` appended to the path of ``base``; the query (and fragment) of ``base`` kept.

    ``join_url("http://h/api?key=K", "/score") == "http://h/api/score?key=K"``.
    """
    parts = urlsplit(base)
    path = parts.path.rstrip("/") + "/" + route.lstrip("/") if route else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def encodable_json(body: Mapping[str, Any]) -> bytes:
    """``body`` as UTF-8 JSON; lone surrogates become U+FFFD, non-finite numbers are refused."""
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _SURROGATES.sub("\ufffd", text).encode("utf-8")


class HttpTransport:
    """POST JSON to ``base_url`` with pooled connections, retries and a per-call deadline.

    ``headers`` are sent with every request (credentials belong here, never in the URL;
    ``user:password@`` in ``base_url`` is turned into Basic authorization). ``secrets`` are
    further strings to scrub from every error (the values of secret-named headers, such as
    ``Authorization`` and ``X-Api-Key``, and the URL's password and secret query values are
    scrubbed anyway). ``transport`` replaces httpx's
    network transport (tests pass an ``httpx.MockTransport``; it then keeps no deadline inside
    an attempt). ``max_attempts`` bounds the tries of one call, the deadline its time,
    ``max_response_bytes`` the body it reads.
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
        secrets: Sequence[str] = (),
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        install_log_redaction()
        self.base_url, basic, url_secrets = _split_credentials(base_url)
        self.display_url = _safe_url(base_url)
        sent = dict(headers or {})
        if basic is not None:
            if any(name.lower() == "authorization" for name in sent):
                raise GuardrailConfigError(
                    f"scorer url {self.display_url}: credentials in the URL and an "
                    "Authorization header; give one of them"
                )
            sent["Authorization"] = basic
        credentials = [value for name, value in sent.items() if is_secret_key(name)]
        self._secrets = _secret_forms([*url_secrets, *credentials, *secrets])
        self.connect_timeout_s = connect_timeout_s
        self.max_attempts = max_attempts
        self.max_response_bytes = max_response_bytes
        self._clock = clock
        self._sleep = sleep
        self._options: dict[str, Any] = {
            "limits": httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            "headers": sent,
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
                    options = dict(self._options)
                    if options["transport"] is None:
                        from guardrail.scorers.remote.deadline import deadline_transport

                        options["transport"] = deadline_transport(
                            limits=options["limits"], proxy=_environment_proxy(self.base_url)
                        )
                    self._client = httpx.Client(**options)
        return self._client

    def url_for(self, route: str) -> str:
        """The URL a ``route`` is posted to (the base URL's path and query kept)."""
        return join_url(self.base_url, route)

    def scrub(self, text: str) -> str:
        """``text`` with this client's credentials and secret-shaped values masked."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact_text(text)

    @contextmanager
    def deadline(self, budget_s: float | None) -> Iterator[float | None]:
        """Calls inside the block end by ``now + budget_s`` (or an earlier deadline in force).

        Used around a whole checkpoint (token ids built client-side, then the call), and by
        the guard to hold a call to its own budget when that is shorter than the scorer's.
        """
        from guardrail.scorers.remote.deadline import call_deadline

        with call_deadline(budget_s) as deadline:
            yield deadline

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        budget_s: float,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POST ``body`` to ``path``; the parsed JSON answer, within ``budget_s`` seconds.

        ``budget_s`` counts from now; an enclosing :meth:`deadline` that ends earlier wins.
        """
        from tenacity import RetryError, Retrying, retry_if_exception_type

        from guardrail.scorers.remote.deadline import call_deadline, remaining_s

        url = self.url_for(path)
        what = f"POST {_safe_url(url)}"
        content = encodable_json(body)
        attempts = 0
        last: str | None = None
        with call_deadline(budget_s):
            left = remaining_s()
            deadline = self._clock() + (budget_s if left is None else left)
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
                            data = self._attempt(url, what, content, deadline, headers)
                        except _Transient as exc:
                            last = str(exc)
                            raise
                        if self._clock() > deadline:  # came in late: discarded
                            raise ScorerTimeoutError(
                                f"{what}: the answer came after the latency budget of "
                                f"{budget_s:g}s and was discarded"
                            )
                        return data
            except (RetryError, _DeadlineExceeded):
                pass
        tries = f"{what}: {attempts} attempt(s)"
        cause = last if last is not None else "no attempt finished"
        if self._clock() >= deadline:
            raise ScorerTimeoutError(
                f"{tries} within the latency budget of {budget_s:g}s; last error: {cause}"
            )
        raise RemoteScorerError(f"{tries} failed; last error: {cause}", retryable=True)

    def close(self) -> None:
        """Close pooled connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # ----------------------------------------------------------------- internals
    def _attempt(
        self,
        url: str,
        what: str,
        content: bytes,
        deadline: float,
        headers: Mapping[str, str] | None,
    ) -> Any:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise _DeadlineExceeded
        timeout = httpx.Timeout(remaining, connect=min(remaining, self.connect_timeout_s))
        sent = {"Content-Type": "application/json", **(headers or {})}
        try:
            with self.client.stream(
                "POST", url, content=content, timeout=timeout, headers=sent
            ) as response:
                status = response.status_code
                raw = self._read(response, what)
        except httpx.TransportError as exc:  # connect/read errors and timeouts, the deadline's
            raise _Transient(self._describe(exc)) from None
        except httpx.HTTPError as exc:  # a body that cannot be decoded (content encoding)
            raise RemoteScorerError(f"{what}: {self._describe(exc)}") from None
        if status in RETRY_STATUSES:
            raise _Transient(f"HTTP {status}: {self._excerpt(raw)}")
        if status >= 400:
            raise RemoteScorerError(f"{what} answered HTTP {status}: {self._excerpt(raw)}")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise RemoteScorerError(
                f"{what} answered a body that is not JSON: {self._excerpt(raw)}"
            ) from None

    def _read(self, response: httpx.Response, what: str) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise RemoteScorerError(
                f"{what} declared a body of {declared} bytes (limit {self.max_response_bytes})"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise RemoteScorerError(
                    f"{what} answered more than {self.max_response_bytes} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _excerpt(self, raw: bytes) -> str:
        text = raw[: 4 * _EXCERPT].decode("utf-8", errors="replace")
        return repr(bounded(printable(self.scrub(text)), _EXCERPT))

    def _describe(self, exc: BaseException) -> str:
        return bounded(printable(self.scrub(f"{type(exc).__name__}: {exc}")), _EXCERPT)

    def _stop(self, deadline: float) -> Callable[[Any], bool]:
        def stop(state: Any) -> bool:
            return bool(state.attempt_number >= self.max_attempts or self._clock() >= deadline)

        return stop

    def _wait(self, deadline: float) -> Callable[[Any], float]:
        def wait(state: Any) -> float:
            backoff = min(1.0, 0.05 * 2 ** (state.attempt_number - 1)) * random.uniform(0.5, 1.0)
            return float(max(0.0, min(backoff, deadline - self._clock())))

        return wait


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``...), if any.

    httpx reads these itself only when it builds its own transport; ours keeps them.
    """
    import urllib.request

    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def _split_credentials(url: str) -> tuple[str, str | None, list[str]]:
    """``url`` without its user information, that as a Basic header, and the URL's secrets.

    The secrets are the password (raw and decoded) and the values of the query's parameters
    that :func:`~guardrail.redaction.redact_text` masks, so an echo of them is scrubbed.
    """
    parts = urlsplit(url)
    secrets: list[str] = []
    basic = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        basic = f"Basic {token}"
        secrets += [s for s in (userinfo, password, unquote(password), token) if len(s) >= 4]
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if value and redact_text(f"?{name}={value}") != f"?{name}={value}":
            secrets += [value, unquote(value)]
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, basic, secrets


def _secret_forms(values: Sequence[str]) -> tuple[str, ...]:
    """The strings to scrub, longest first; a header's credential also without its scheme."""
    forms: set[str] = set()
    for value in values:
        forms.add(value)
        scheme, _, credential = value.partition(" ")
        if credential and scheme.lower() in ("bearer", "basic", "token"):
            forms.add(credential)
    return tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True))
