"""A scripted hostile scorer service on 127.0.0.1, for fault-injection tests.

:class:`HostileScorerService` answers each request with the next :class:`Reply` of its
script (the last one repeats): a well-formed answer, garbage, NaN, a hang, a trickle of one
byte at a time, a 404 that echoes the request's headers, a body that comes late, a body
larger than it should be. Requests are recorded (:attr:`HostileScorerService.requests`) so a
test can check what the client sent. A real socket server, so that the client's own network
code (connect, write, per-read waits, the deadline) is what is tested::

    with HostileScorerService([Reply.trickle(b'{"values": [0.5]}', interval_s=0.2)]) as svc:
        RemoteScorer(svc.url, latency_budget_s=0.5).score("q")  # ScorerTimeoutError in ~0.5 s
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["HostileScorerService", "RecordedRequest", "Reply"]

Behaviour = Literal["answer", "hang", "trickle", "slow_body", "echo_headers", "values"]
_LONGEST_S = 30.0  # no handler outlives this, whatever the client does


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. Build it with the class methods."""

    behaviour: Behaviour
    status: int = 200
    body: bytes = b""
    interval_s: float = 0.0
    declared_length: int | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def raw(
        cls, body: bytes | str, status: int = 200, content_type: str = "application/json"
    ) -> Reply:
        """``body`` as it is (garbage, ``{"values": [NaN]}``), with ``status``."""
        data = body.encode() if isinstance(body, str) else body
        return cls("answer", status, data, headers=(("Content-Type", content_type),))

    @classmethod
    def values(cls, value: float | str) -> Reply:
        """``{"values": [value, ...]}``, one ``value`` per item of the request.

        A string is written as it is (``"NaN"``, ``"Infinity"``, ``'"0.5"'``, ``"null"``).
        """
        literal = value if isinstance(value, str) else json.dumps(value)
        return cls("values", body=literal.encode())

    @classmethod
    def hang(cls) -> Reply:
        """Read the request, never answer (until the service stops)."""
        return cls("hang")

    @classmethod
    def trickle(cls, body: bytes, interval_s: float = 0.2) -> Reply:
        """Headers at once, then the body one byte every ``interval_s`` seconds."""
        return cls("trickle", body=body, interval_s=interval_s)

    @classmethod
    def slow_body(cls, body: bytes, delay_s: float) -> Reply:
        """Headers at once, the body after ``delay_s`` seconds."""
        return cls("slow_body", body=body, interval_s=delay_s)

    @classmethod
    def echo_headers(cls, status: int = 404) -> Reply:
        """An error page that repeats every request header (``Authorization`` included)."""
        return cls("echo_headers", status)

    @classmethod
    def oversized(cls, declared_length: int) -> Reply:
        """A ``Content-Length`` of ``declared_length`` bytes, then a short body."""
        return cls("answer", body=b'{"values": [0.5]}', declared_length=declared_length)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the client sent: path, headers (lower-case names) and body."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HostileScorerService:
    """A threaded HTTP server on 127.0.0.1 answering from ``script`` (see the module doc)."""

    script: Sequence[Reply]
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.script:
            raise ValueError("the script needs at least one reply")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._served = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> HostileScorerService:
        """Start serving (in a daemon thread)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging and trickling handlers end at once."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileScorerService:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            reply = self.script[min(self._served, len(self.script) - 1)]
            self._served += 1
            return reply


class _Handler(BaseHTTPRequestHandler):
    """Answers a POST with the service's next reply (``server.service``)."""

    protocol_version = "HTTP/1.1"
    service: HostileScorerService  # set on the subclass made per service

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded requests instead."""

    def do_POST(self) -> None:
        """Record the request, then answer as the script says."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.service._next(RecordedRequest(self.path, headers, body))
        try:
            getattr(self, f"_{reply.behaviour}")(reply, body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up: what a deadline is for

    @property
    def _stop(self) -> threading.Event:
        return self.service._stop

    def _hang(self, reply: Reply, body: bytes) -> None:
        self._stop.wait(_LONGEST_S)
        self.close_connection = True

    def _echo_headers(self, reply: Reply, body: bytes) -> None:
        echoed = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        self._send(reply.status, f"no such route; you sent:\n{echoed}".encode())

    def _values(self, reply: Reply, body: bytes) -> None:
        count = len(json.loads(body or b"{}").get("items", [None]))
        self._send(200, b'{"values": [' + b",".join([reply.body] * count) + b"]}")

    def _trickle(self, reply: Reply, body: bytes) -> None:
        self._headers(reply.status, len(reply.body))
        for byte in reply.body:
            if self._stop.wait(reply.interval_s):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def _slow_body(self, reply: Reply, body: bytes) -> None:
        self._headers(reply.status, len(reply.body))
        if not self._stop.wait(reply.interval_s):
            self.wfile.write(reply.body)

    def _answer(self, reply: Reply, body: bytes) -> None:
        self._send(reply.status, reply.body, reply.declared_length, reply.headers)

    def _headers(self, status: int, length: int, extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        if not any(name.lower() == "content-type" for name, _ in extra):
            self.send_header("Content-Type", "application/json")
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()

    def _send(
        self,
        status: int,
        body: bytes,
        declared: int | None = None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._headers(status, len(body) if declared is None else declared, extra)
        self.wfile.write(body)
        if declared is not None:
            self.close_connection = True


def _handler(service: HostileScorerService) -> type[BaseHTTPRequestHandler]:
    return type("HostileHandler", (_Handler,), {"service": service})
