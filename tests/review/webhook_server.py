"""A real HTTP server on 127.0.0.1 for the webhook tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookServer:
    """A real HTTP server on 127.0.0.1 answering POSTs from a script of responses.

    Each script entry is a status code, or ``("sleep", seconds)`` to stall and then answer
    200. When the script runs out every request gets 200.
    """

    url: str
    script: list[int | tuple[str, float]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_response(self, request: Received) -> int | tuple[str, float]:
        with self.lock:
            self.received.append(request)
            return self.script.pop(0) if self.script else 200


def make_handler(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = server.next_response(Received(self.path, dict(self.headers), body))
            try:
                if isinstance(answer, tuple):
                    time.sleep(answer[1])
                    answer = 200
                self.send_response(answer)
                if 300 <= answer < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
