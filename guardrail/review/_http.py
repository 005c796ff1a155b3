"""One HTTP POST with a deadline on the whole attempt (connect, send, headers and body).

``timeout`` on a socket bounds each read: a receiver that sends one byte a second keeps a
read-timeout client forever. Here a timer shuts the socket down when the attempt's time is up,
which wakes the blocked read at once, and the attempt fails with :class:`TimeoutError`.
Credentials in the URL (``user:password@``) are never part of the request line or of an
error: they travel as HTTP Basic authorization.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["Endpoint", "post"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed http(s) URL: where to connect, what to request, and its Basic credentials."""

    scheme: str
    host: str
    port: int
    target: str
    authorization: str | None
    secrets: tuple[str, ...]

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Split ``url``; ``ValueError`` for a bad scheme, no host or a port out of range."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        port = parts.port  # ValueError when out of range or not a number
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        authorization = None
        secrets: list[str] = []
        if parts.username is not None or parts.password is not None:
            user, password = unquote(parts.username or ""), unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            authorization = f"Basic {token}"
            secrets = [s for s in (parts.password, password, token) if s]
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port or (443 if parts.scheme == "https" else 80),
            target=target,
            authorization=authorization,
            secrets=tuple(secrets),
        )

    def scrub(self, text: str) -> str:
        """``text`` with the URL's password (raw, decoded, or encoded) replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def post(
    endpoint: Endpoint, body: bytes, headers: Mapping[str, str], deadline_s: float
) -> tuple[int, str]:
    """POST ``body``; return ``(status, reason)``. ``TimeoutError`` once ``deadline_s`` passed."""
    connection: http.client.HTTPConnection
    if endpoint.scheme == "https":
        connection = http.client.HTTPSConnection(
            endpoint.host, endpoint.port, timeout=deadline_s, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=deadline_s)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(deadline_s, expire)
    timer.daemon = True
    all_headers = dict(headers)
    if endpoint.authorization is not None:
        all_headers["Authorization"] = endpoint.authorization
    response: http.client.HTTPResponse | None = None
    timer.start()
    try:
        connection.request("POST", endpoint.target, body=body, headers=all_headers)
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise TimeoutError(f"attempt exceeded its deadline of {deadline_s:g}s") from None
        raise exc from None
    finally:
        timer.cancel()
        # A response whose body read failed owns the socket (the connection handed it over):
        # close both, or the descriptor lives until the garbage collector finds it.
        if response is not None:
            response.close()
        connection.close()
    if expired.is_set():  # the shutdown can look like a short but complete answer
        raise TimeoutError(f"attempt exceeded its deadline of {deadline_s:g}s")
    return int(response.status), str(response.reason or "")
