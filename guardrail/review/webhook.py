"""A review sink that POSTs signed JSON to a URL, retries, and dead-letters what it cannot send.

Each request carries ``X-Guardrail-Signature: sha256=<hex HMAC-SHA256 of the body>`` (check it
with :func:`verify_signature`), ``X-Guardrail-Timestamp`` (Unix seconds of the attempt) and
``X-Guardrail-Delivery`` (one id per notification, the same on every retry); the body of a
notification carries ``sent_at``, so a receiver can refuse replays. Connection errors,
timeouts, 5xx and 429 are retried with exponential backoff; other 4xx and redirects are not.
After the last failure the notification is appended to the dead-letter JSONL file, or, with no
such file, :class:`~guardrail.review.errors.WebhookDeliveryError` is raised. The secret and the
URL's path, query and credentials never reach a log line, an error, a dead-letter record or
``repr()``: ``user:password@`` in the URL is sent as HTTP Basic authorization, and error texts
are scrubbed of it.

``timeout_s`` is a deadline per attempt, not per socket read (see :mod:`guardrail.review.
_http`). Delivery is in the background by default: :meth:`WebhookSink.notify` puts the
notification on a bounded queue and returns at once (it never waits for a receiver, a retry or
a backoff); one worker thread per sink delivers in order, retries and dead-letters included,
and a failure without a dead-letter file is logged at ERROR instead of raised. A full queue
dead-letters the new notification at once. :meth:`WebhookSink.flush` waits for the worker and
:meth:`WebhookSink.close` flushes (up to a timeout), dead-letters what is still waiting and
stops the worker; sinks still open when the interpreter exits are closed then.
``background=False`` delivers synchronously in ``notify`` and raises its failures.

The receiver is an untrusted peer: a body larger than ``max_body_bytes`` is never sent (it is
dead-lettered as the item's id and the reason, or raised), so an oversized answer cannot be
pushed to it, and its replies are read under the attempt's deadline.
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
from guardrail.review._background import BackgroundWorker
from guardrail.review._http import Endpoint, post
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


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, _HTTPStatusError):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, OSError | http.client.HTTPException)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _safe_url(url: str) -> str:
    """Scheme, host and port only: never credentials, path or query; never raises."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":<invalid port>"
    return f"{parts.scheme}://{host}{port}"


DEFAULT_MAX_BODY_BYTES = 8 * 2**20
"""The largest notification body a sink sends: room for an item whose answer and edited answer
are both at :data:`~guardrail.review.models.MAX_ANSWER_CHARS`."""
DEFAULT_MAX_PENDING = 10_000
"""How many notifications wait for the background worker before new ones are dead-lettered."""

Job = tuple[dict[str, Any], str, str]
"""A background delivery: the payload, its event and its delivery id."""


class _BodyTooLarge(ValueError):
    """A notification body over ``max_body_bytes``: never sent."""


def _summary(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a dead letter keeps of a payload too large to keep: the event and the item's id."""
    item = payload.get("item")
    item_id = item.get("id") if isinstance(item, Mapping) else None
    return {
        "event": payload.get("event"),
        "delivery_id": payload.get("delivery_id"),
        "item_id": item_id,
        "omitted": "the payload exceeded max_body_bytes",
    }


class WebhookSink:
    """POST review notifications to ``url``, signed with ``secret``.

    ``timeout_s`` is the deadline of each attempt, ``max_attempts`` counts the first try, and
    waits between attempts grow as ``backoff_s * 2**n`` up to ``max_backoff_s``.
    ``dead_letter_path`` is the JSONL file that keeps notifications that could not be
    delivered. ``background`` (the default) delivers from a worker thread, at most
    ``max_pending`` notifications waiting (beyond that they are dead-lettered at once);
    ``background=False`` delivers in :meth:`notify` itself. No body over ``max_body_bytes``
    is sent.
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
        background: bool = True,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        try:
            self._endpoint = Endpoint.parse(url)
        except ValueError as exc:
            raise GuardrailConfigError(
                f"webhook url {_safe_url(url)!r} is not usable: {exc}"
            ) from None
        if not secret:
            raise GuardrailConfigError("webhook secret must not be empty")
        if (
            timeout_s <= 0
            or max_attempts < 1
            or backoff_s < 0
            or max_backoff_s < 0
            or max_pending < 1
            or max_body_bytes < 1
        ):
            raise GuardrailConfigError(
                "webhook needs timeout_s > 0, max_attempts >= 1, max_pending >= 1, "
                "max_body_bytes >= 1 and non-negative backoff"
            )
        self._url = url
        self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._dead_letter_path = None if dead_letter_path is None else Path(dead_letter_path)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._dead_letter_lock = threading.Lock()
        self._background = background
        self._max_body_bytes = max_body_bytes
        self._worker: BackgroundWorker[Job] = BackgroundWorker(
            self._deliver, self._give_up_job, max_pending=max_pending, name="guardrail-webhook"
        )

    def __repr__(self) -> str:
        dead_letter = None if self._dead_letter_path is None else str(self._dead_letter_path)
        return (
            f"{type(self).__name__}(url={_safe_url(self._url)!r}, secret='***', "
            f"timeout_s={self._timeout_s!r}, max_attempts={self._max_attempts!r}, "
            f"dead_letter_path={dead_letter!r}, background={self._background!r})"
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
        if not self._background:
            self.send(payload, event=event, delivery_id=delivery_id)
            return
        self._worker.submit((payload, event, delivery_id))

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until background deliveries are done; ``False`` if ``timeout_s`` ran out."""
        return self._worker.flush(timeout_s)

    def close(self, timeout_s: float | None = 30.0) -> None:
        """Deliver what is pending (up to ``timeout_s``), then stop the background worker.

        Notifications still waiting when the time is up are dead-lettered (or logged as lost
        without a dead-letter file), never silently dropped. Idempotent; a later
        :meth:`notify` starts a new worker.
        """
        self._worker.close(timeout_s)

    def _deliver(self, job: Job) -> None:
        payload, event, delivery_id = job
        try:
            self.send(payload, event=event, delivery_id=delivery_id)
        except Exception as exc:  # no caller to raise to: the error is logged
            logger.error(
                "webhook %s: background delivery %s lost: %s",
                _safe_url(self._url),
                delivery_id,
                self._endpoint.scrub(str(exc)),
            )

    def _give_up_job(self, job: Job, exc: Exception) -> None:
        payload, event, delivery_id = job
        try:
            self._give_up(payload, event, delivery_id, 0, exc)
        except WebhookDeliveryError as error:
            logger.error("webhook %s: %s", _safe_url(self._url), error)

    def send(
        self, payload: Mapping[str, Any], *, event: str = "", delivery_id: str | None = None
    ) -> DeliveryReport:
        """POST ``payload`` as JSON with retries; dead-letter (or raise) after the last failure."""
        delivery_id = delivery_id or uuid.uuid4().hex
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        if len(body) > self._max_body_bytes:
            error = _BodyTooLarge(
                f"not sent: the body is {len(body):,} bytes, over max_body_bytes "
                f"({self._max_body_bytes:,})"
            )
            return self._give_up(_summary(payload), event, delivery_id, 0, error)
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
        status, reason = post(self._endpoint, body, headers, self._timeout_s)
        if not 200 <= status < 300:  # redirects too: the signed body is not re-sent elsewhere
            raise _HTTPStatusError(status, reason[:200])
        return status

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "webhook %s attempt %d/%d failed (%s); retrying in %.2fs",
            _safe_url(self._url),
            state.attempt_number,
            self._max_attempts,
            self._endpoint.scrub(_describe(exc)) if exc else "no result",
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
        reason = self._endpoint.scrub(_describe(exc))
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
