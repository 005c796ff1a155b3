"""A review sink that POSTs signed JSON to a URL, retries, and dead-letters what it cannot send.

Each request carries ``X-Guardrail-Signature: sha256=<hex HMAC-SHA256 of the body>`` (check it
with :func:`verify_signature`), ``X-Guardrail-Timestamp`` (Unix seconds of the attempt) and
``X-Guardrail-Delivery`` (one id per notification, the same on every retry); the body of a
notification carries ``sent_at``, so a receiver can refuse replays. Connection errors,
timeouts, 5xx and 429 are retried with exponential backoff; other 4xx and redirects are not.
After the last failure the notification is appended to the dead-letter JSONL file, or, with no
such file, :class:`~guardrail.review.errors.WebhookDeliveryError` is raised. The secret and the
URL's path, query and credentials never reach a log line, a dead-letter record or ``repr()``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from guardrail import __version__
from guardrail.errors import GuardrailConfigError
from guardrail.review.errors import WebhookDeliveryError
from guardrail.review.models import ReviewItem
from guardrail.review.sinks import ReviewEvent

__all__ = ["DeliveryReport", "WebhookSink", "sign", "verify_signature"]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Guardrail-Signature"
TIMESTAMP_HEADER = "X-Guardrail-Timestamp"
DELIVERY_HEADER = "X-Guardrail-Delivery"
EVENT_HEADER = "X-Guardrail-Event"


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex digest>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header.strip())


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The outcome of one notification: delivered, or dead-lettered after ``attempts``."""

    delivery_id: str
    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    dead_lettered: bool = False


class _HTTPStatusError(Exception):
    """A non-2xx answer, reduced to its status (the response is closed already)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}".rstrip())
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: the signed body must not be re-sent somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, _HTTPStatusError):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, OSError | http.client.HTTPException)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        exc = exc.reason
    return f"{type(exc).__name__}: {exc}"


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class WebhookSink:
    """POST review notifications to ``url``, signed with ``secret``.

    ``timeout_s`` bounds each attempt, ``max_attempts`` counts the first try, and waits between
    attempts grow as ``backoff_s * 2**n`` up to ``max_backoff_s``. ``dead_letter_path`` is the
    JSONL file that keeps notifications that could not be delivered.
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        timeout_s: float = 5.0,
        max_attempts: int = 5,
        dead_letter_path: str | os.PathLike[str] | None = None,
        *,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GuardrailConfigError(
                f"webhook url must be an http(s) URL with a host, got {_safe_url(url)!r}"
            )
        if not secret:
            raise GuardrailConfigError("webhook secret must not be empty")
        if timeout_s <= 0 or max_attempts < 1 or backoff_s < 0 or max_backoff_s < 0:
            raise GuardrailConfigError(
                "webhook needs timeout_s > 0, max_attempts >= 1 and non-negative backoff"
            )
        self._url = url
        self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._dead_letter_path = None if dead_letter_path is None else Path(dead_letter_path)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._dead_letter_lock = threading.Lock()

    def __repr__(self) -> str:
        dead_letter = None if self._dead_letter_path is None else str(self._dead_letter_path)
        return (
            f"{type(self).__name__}(url={_safe_url(self._url)!r}, secret='***', "
            f"timeout_s={self._timeout_s!r}, max_attempts={self._max_attempts!r}, "
            f"dead_letter_path={dead_letter!r})"
        )

    @property
    def dead_letter_path(self) -> Path | None:
        """The JSONL file of undeliverable notifications, if any."""
        return self._dead_letter_path

    def notify(self, event: ReviewEvent, item: ReviewItem) -> None:
        """Send ``{"event", "delivery_id", "sent_at", "item"}`` for a committed item."""
        delivery_id = uuid.uuid4().hex
        payload = {
            "event": event,
            "delivery_id": delivery_id,
            "sent_at": datetime.now(UTC).isoformat(),
            "item": item.model_dump(mode="json"),
        }
        self.send(payload, event=event, delivery_id=delivery_id)

    def send(
        self, payload: Mapping[str, Any], *, event: str = "", delivery_id: str | None = None
    ) -> DeliveryReport:
        """POST ``payload`` as JSON with retries; dead-letter (or raise) after the last failure."""
        delivery_id = delivery_id or uuid.uuid4().hex
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        attempts = 0

        def attempt() -> int:
            nonlocal attempts
            attempts += 1
            return self._post(body, event, delivery_id)

        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_exponential(multiplier=self._backoff_s, max=self._max_backoff_s),
            retry=retry_if_exception(_retryable),
            before_sleep=self._log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            status = retrying(attempt)
        except Exception as exc:  # every failure is dead-lettered or raised below
            return self._give_up(payload, event, delivery_id, attempts, exc)
        logger.debug("webhook %s delivered %s (HTTP %d)", _safe_url(self._url), delivery_id, status)
        return DeliveryReport(delivery_id, delivered=True, attempts=attempts, status=status)

    def _post(self, body: bytes, event: str, delivery_id: str) -> int:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"finece-guardrail/{__version__}",
            SIGNATURE_HEADER: sign(self._secret, body),
            TIMESTAMP_HEADER: str(int(time.time())),
            DELIVERY_HEADER: delivery_id,
        }
        if event:
            headers[EVENT_HEADER] = event
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            status, reason = exc.code, str(exc.reason or "")
            exc.close()
            raise _HTTPStatusError(status, reason) from None

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "webhook %s attempt %d/%d failed (%s); retrying in %.2fs",
            _safe_url(self._url),
            state.attempt_number,
            self._max_attempts,
            _describe(exc) if exc else "no result",
            wait,
        )

    def _give_up(
        self,
        payload: Mapping[str, Any],
        event: str,
        delivery_id: str,
        attempts: int,
        exc: Exception,
    ) -> DeliveryReport:
        status = exc.status if isinstance(exc, _HTTPStatusError) else None
        reason = _describe(exc)
        where = _safe_url(self._url)
        if self._dead_letter_path is None:
            raise WebhookDeliveryError(
                f"webhook {where} failed after {attempts} attempt(s): {reason}",
                attempts=attempts,
                status=status,
            ) from None
        record = {
            "failed_at": datetime.now(UTC).isoformat(),
            "url": where,
            "event": event,
            "delivery_id": delivery_id,
            "attempts": attempts,
            "status": status,
            "error": reason,
            "payload": payload,
        }
        try:
            self._write_dead_letter(record)
        except OSError as write_exc:
            raise WebhookDeliveryError(
                f"webhook {where} failed after {attempts} attempt(s): {reason}; and the "
                f"dead-letter file {self._dead_letter_path} could not be written: {write_exc}",
                attempts=attempts,
                status=status,
            ) from write_exc
        logger.error(
            "webhook %s failed after %d attempt(s) (%s); dead-lettered %s to %s",
            where,
            attempts,
            reason,
            delivery_id,
            self._dead_letter_path,
        )
        return DeliveryReport(
            delivery_id,
            delivered=False,
            attempts=attempts,
            status=status,
            error=reason,
            dead_lettered=True,
        )

    def _write_dead_letter(self, record: Mapping[str, Any]) -> None:
        assert self._dead_letter_path is not None
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._dead_letter_lock:
            self._dead_letter_path.parent.mkdir(parents=True, exist_ok=True)
            with self._dead_letter_path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
