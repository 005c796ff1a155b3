"""Run by tests/packaging/test_wheel.py inside a fresh virtualenv: the built wheel with the
``langchain`` extra and no torch. Guards a LangChain call with a ``logprob:`` scorer and with a
``RemoteScorer`` talking to a scripted scorer service on loopback; prints one JSON line."""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

for heavy in ("torch", "transformers", "peft", "gguf", "accelerate", "sklearn"):
    assert importlib.util.find_spec(heavy) is None, f"{heavy} is installed in the base venv"

from guardrail.errors import MissingExtraError  # noqa: E402
from guardrail.integrations.langchain import guard  # noqa: E402
from guardrail.scorers.remote import RemoteScorer  # noqa: E402
from guardrail.testing import FakeStreamingChatModel  # noqa: E402

POLICY: dict[str, Any] = {
    "name": "base-install",
    "checkpoints": {"strategies": [{"type": "periodic", "every": 2}], "min_gap": 0},
    "rules": [{"name": "low", "when": {"confidence_below": 0.2}, "action": "abort"}],
    "default_action": "continue",
}
ANSWER = ["The", " answer", " is", " 42", "."]


class ScorerService(BaseHTTPRequestHandler):
    """A scorer service of the ``ray`` engine's shape that is always fairly sure."""

    seen: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ScorerService.seen.append(len(body["items"]))
        data = json.dumps({"values": [0.9] * len(body["items"]), "replica": "r1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def guarded(scorer_policy: dict[str, Any], scorer: Any = None) -> dict[str, Any]:
    model = FakeStreamingChatModel(responses=[ANSWER])
    runnable = guard(model, {**POLICY, "scorer": scorer_policy}, scorer=scorer, review=None)
    result = runnable.invoke("What is six times seven?")
    return {
        "text": result.output.content,
        "status": result.status,
        "checkpoints": len(result.events),
    }


def main() -> None:
    server = HTTPServer(("127.0.0.1", 0), ScorerService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    report: dict[str, Any] = {
        "logprob": guarded({"model": "logprob:mean_logprob"}),
        "remote": guarded({"model": "remote"}, RemoteScorer(url, "ray", model="remote")),
        "remote_requests": len(ScorerService.seen),
    }
    server.shutdown()
    try:
        from guardrail.models import load_model

        load_model("builtin:smollm2-135m-instruct")
    except MissingExtraError as exc:
        report["local_error"] = str(exc)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
