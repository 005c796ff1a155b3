"""``audit.on_error``: an unwritable audit log fails the call, or is logged and skipped."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from guardrail.audit import AuditRecord, AuditWriteError
from guardrail.audit.on_error import PolicyAuditLog
from guardrail.policy import Policy
from guardrail.runtime import GuardConfig
from guardrail.testing.scorers import ScriptedScorer


class BrokenLog:
    """An audit log on a full disk."""

    def record(
        self, kind: Any, run_id: str, payload: Mapping[str, Any] | None = None, **_: Any
    ) -> AuditRecord:
        raise AuditWriteError("cannot write audit log /full/audit.jsonl: No space left on device")

    def read_run(self, run_id: str) -> list[AuditRecord]:
        return []

    def tail(self, n: int = 20) -> list[AuditRecord]:
        return []

    def close(self) -> None:
        pass


def _config(on_error: str | None) -> GuardConfig:
    data: dict[str, Any] = {"name": "audited"}
    if on_error is not None:
        data["audit"] = {"on_error": on_error}
    return GuardConfig(Policy.from_dict(data), ScriptedScorer([0.9]), audit=BrokenLog())


def test_default_is_fail_closed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert Policy().audit.on_error == "fail_closed"
    run = _config(None).audit_run("run-1")
    with caplog.at_level(logging.ERROR, logger="guardrail.audit"), pytest.raises(AuditWriteError):
        run.start({"question": "q"})
    assert "audit.on_error=fail_closed" in caplog.text
    assert "run-1" in caplog.text


def test_fail_open_goes_on_and_logs_every_dropped_record(caplog: pytest.LogCaptureFixture) -> None:
    run = _config("fail_open").audit_run("run-2")
    with caplog.at_level(logging.ERROR, logger="guardrail.audit"):
        record = run.start({"question": "q", "api_key": "sk-not-written"})
        run.end("ok")
    assert record.run_id == "run-2"
    assert record.payload["api_key"] == "[REDACTED]"
    assert caplog.text.count("audit.on_error=fail_open") == 2
    assert isinstance(run.log, PolicyAuditLog)
    assert run.log.dropped == 2


def test_guarded_call_with_fail_open_audit_completes() -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from guardrail.integrations.langchain import guard

    model = GenericFakeChatModel(messages=iter([AIMessage(content="Step one.\nAnswer: 4")]))
    policy = {"name": "open", "audit": {"on_error": "fail_open"}}
    guarded = guard(model, policy, ScriptedScorer(lambda q, a: 0.9), audit=BrokenLog())
    assert guarded.invoke("What is 2 + 2?").status == "ok"
    closed = guard(
        GenericFakeChatModel(messages=iter([AIMessage(content="Answer: 4")])),
        {"name": "closed"},
        ScriptedScorer(lambda q, a: 0.9),
        audit=BrokenLog(),
    )
    with pytest.raises(AuditWriteError):
        closed.invoke("What is 2 + 2?")


def test_unknown_on_error_is_a_config_error() -> None:
    from guardrail.errors import GuardrailConfigError

    with pytest.raises(GuardrailConfigError, match="on_error"):
        Policy.from_dict({"audit": {"on_error": "ignore"}})
