"""Secrets never reach the audit trail: nested metadata, header lists, values in free text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.redaction import REDACTED, is_secret_key, redact, redact_text

SECRET = "s3cr3t-Value-42xyz"


@pytest.mark.parametrize(
    "key",
    [
        "auth_header",
        "bearer",
        "pwd",
        "client_key",
        "signing_key",
        "jwt",
        "session",
        "sessionId",
        "x-session-key",
        "encryption_key",
        "db_passwords",
        "id_token",
    ],
)
def test_more_secret_key_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["author", "max_tokens", "token_index", "dedupe_key", "keyword"])
def test_ordinary_keys_stay(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abc.DEF-123_ghi", "Authorization: Bearer "),
        ("use key sk-proj-AbCdEfGhIjKlMnOpQrStUv12 now", "use key "),
        ("sk-ant-api03-abcdefghijklmnopqrstu", ""),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123", "token "),
        ("aws AKIAABCDEFGHIJKLMNOP", "aws "),
        ("jwt eyJhbGciOi.eyJzdWIiOiIx.SflKxwRJSMeKKF2QT4fw", "jwt "),
        ("https://user:" + SECRET + "@db.example.com/x", "https://"),
        ("https://api.example.com/v1?model=m&api_key=" + SECRET, "model=m&api_key="),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic "),
    ],
)
def test_secret_values_in_text(text: str, kept: str) -> None:
    out = redact_text(text)
    assert REDACTED in out
    assert kept in out
    for secret in ("abc.DEF", "AbCdEf", "abcdefghij", "AKIAABCD", "eyJzdWIi", SECRET, "dXNlc"):
        assert secret not in out


@pytest.mark.parametrize(
    "text",
    [
        "Basic arithmetic: 3 + 5 = 8.",
        "The bearer instrument is a note.",
        "See https://example.com/path?page=2&q=tokens for details.",
        "Ask the skeptical reviewer.",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact_text(text) == text


def test_nested_metadata_is_walked_before_stringifying() -> None:
    from guardrail.policy import RunContext

    metadata = {
        "headers": {"Authorization": "Bearer " + SECRET, "Accept": "json"},
        "request": {"password": SECRET, "url": f"https://u:{SECRET}@h/x"},
        "header_list": [("Authorization", SECRET), ("Accept", "json")],
        "note": f"the key is sk-{SECRET}abcdefgh",
        "tool": object(),
    }
    out = RunContext(metadata=metadata).to_dict()["metadata"]
    assert SECRET not in json.dumps(out)
    assert out["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert out["request"]["password"] == REDACTED
    assert out["header_list"] == [["Authorization", REDACTED], ["Accept", "json"]]
    assert out["tool"].startswith("<object")


def test_audit_log_never_writes_nested_secrets(tmp_path: Path) -> None:
    from guardrail.audit import open_audit_log
    from guardrail.policy import RunContext

    log = open_audit_log(tmp_path / "audit.jsonl")
    context = RunContext(metadata={"config": {"headers": {"auth_header": SECRET}}})
    log.record("decision", "run-1", {"context": context.to_dict(), "note": "Bearer " + SECRET})
    log.record("error", "run-1", {"message": f"connect to https://me:{SECRET}@db failed"})
    log.close()
    assert SECRET not in (tmp_path / "audit.jsonl").read_text(encoding="utf-8")


secrets = st.sampled_from(
    [
        "Bearer " + SECRET,
        "sk-" + SECRET + "abcdef",
        f"https://me:{SECRET}@example.com",
        f"https://example.com/?token={SECRET}",
    ]
)
filler = st.text(st.characters(codec="ascii"), max_size=10)


@given(filler, secrets, filler)
def test_secret_values_never_survive(before: str, secret: str, after: str) -> None:
    # a separator keeps the secret a token of its own, as it is in real text
    out = redact({"free": f"{before} {secret} {after}", "list": [[before, secret]]})
    assert SECRET not in json.dumps(out)


@given(st.recursive(st.text(max_size=12), lambda c: st.lists(c, max_size=3), max_leaves=8))
def test_redaction_is_idempotent(value: Any) -> None:
    once = redact(value)
    assert redact(once) == once
