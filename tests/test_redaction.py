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


# ------------------------------------------------------------ credential shapes (issue 26)
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
GLPAT = "glpat-" + "xY12zW34vU56tS78rQ90"
YA29 = "ya29." + "a0AfH6SMBx3kLmN0pQrStUvWxYz_12-34"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98ZsF3kLmN0pQrStUvWxYz\n"
    "K1zWq9n4Yt8v2ExAmPlEkEy0123456789abcdefXYZ==\n-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("login with password=" + SECRET + " then", SECRET, "login with password="),
        ("host=db port=5432 dbname=app user=me password=" + SECRET, SECRET, "user=me"),
        ("host=db password='" + SECRET + " x' sslmode=require", SECRET, "sslmode=require"),
        ("postgresql://me@db/app?sslmode=require&password=" + SECRET, SECRET, "sslmode=require"),
        ("token " + HF + " for the hub", HF[3:], "for the hub"),
        ("gitlab " + GLPAT, GLPAT[6:], "gitlab "),
        ("google " + YA29, YA29[5:], "google "),
        ("key:\n" + PEM + "\nend", "MIIEowIBAAKCAQEA", "end"),
        ("cut: " + PEM[:80], "MIIEowIBAAKCAQEA", "cut: "),
        (json.dumps({"openai_key": SECRET, "model": "m"}), SECRET, '"model": "m"'),
        (json.dumps({"apitoken": SECRET}), SECRET, "apitoken"),
        ("csrftoken=" + SECRET + "; path=/", SECRET, "path=/"),
        ('{"config": {"password": "' + SECRET + ' with spaces"}}', SECRET, '"config"'),
        ("https://me:p@ss" + SECRET + "@db.example.com/x", SECRET, "db.example.com/x"),
        ("https://" + SECRET + "@github.com/org/repo", SECRET, "github.com/org/repo"),
    ],
)
def test_credential_shapes_are_masked(text: str, secret: str, kept: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert REDACTED in out
    assert kept in out


@pytest.mark.parametrize(
    "key", ["openai_key", "apitoken", "csrftoken", "hf_token", "anthropicKey", "x-api-key"]
)
def test_credential_key_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["sort_key", "primary_key", "cache_key", "tokens", "num_tokens"])
def test_ordinary_key_names_stay(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    "text",
    [
        "The password policy requires twelve characters.",
        "Set max_tokens=256 and top_k=5.",
        "mailto:someone@example.com and http://example.com/a@b",
        "The keys are sort_key=name and cache_key=abc123.",
    ],
)
def test_ordinary_text_with_credential_words_is_kept(text: str) -> None:
    assert redact_text(text) == text


# A secret always carries a digit, an upper- and a lower-case letter, so that no English filler
# word can equal it and a passing test means the secret itself was masked.
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _secret(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=size, max_size=size + 12).map(
        lambda s: "Q7" + s + "z"
    )


_WORDS = st.lists(
    st.sampled_from(["the", "answer", "is", "see", "log:", "note", "-", "(", ")", "ok.", "\n"]),
    max_size=6,
).map(" ".join)
_PASSWORD_CHARS = _ALNUM + "!$%*+-._~@"
_SHAPES: dict[str, Any] = {
    "hf": _secret(_ALNUM, 30).map(lambda s: ("hf_" + s, s)),
    "glpat": _secret(_ALNUM + "_-", 20).map(lambda s: ("glpat-" + s, s)),
    "ya29": _secret(_ALNUM + "_-", 24).map(lambda s: ("ya29." + s, s)),
    "sk": _secret(_ALNUM, 24).map(lambda s: ("sk-" + s, s)),
    "bearer": _secret(_ALNUM, 16).map(lambda s: ("Authorization: Bearer " + s, s)),
    "kv": st.tuples(
        st.sampled_from(["password", "passwd", "pwd", "api_key", "openai_key", "apitoken"]),
        st.sampled_from(["=", ": ", " = "]),
        _secret(_PASSWORD_CHARS, 8),
    ).map(lambda t: (f"{t[0]}{t[1]}{t[2]}", t[2])),
    "dsn": _secret(_PASSWORD_CHARS, 8).map(
        lambda s: (f"host=db.internal dbname=app user=svc password={s} sslmode=require", s)
    ),
    "pem": _secret(_ALNUM + "+/", 40).map(
        lambda s: (f"-----BEGIN PRIVATE KEY-----\n{s}\n-----END PRIVATE KEY-----", s)
    ),
}


@st.composite
def _embedded_secret(draw: st.DrawFn) -> tuple[str, str]:
    """``(text, secret)``: a credential shape inside free text, JSON or a URL."""
    shape, secret = draw(st.one_of(*_SHAPES.values()))
    where = draw(st.sampled_from(["text", "json-value", "json-key", "url-password", "url-query"]))
    before, after = draw(_WORDS), draw(_WORDS)
    if where == "text":
        text = f"{before} {shape} {after}"
    elif where == "json-value":
        text = json.dumps({"note": f"{before} {shape} {after}", "n": 1})
    elif where == "json-key":
        key = draw(st.sampled_from(["password", "openai_key", "apitoken", "csrftoken", "secret"]))
        text = json.dumps({"user": "me", key: secret, "note": before})
    elif where == "url-password":
        password = draw(_secret(_PASSWORD_CHARS, 8))  # '@' unencoded included
        text, secret = f"{before} https://svc:{password}@scorer.internal:8000/v1 {after}", password
    else:
        name = draw(st.sampled_from(["api_key", "token", "access_token", "password", "key"]))
        text = f"{before} http://scorer.internal/score?model=m&{name}={secret}&x=1 {after}"
    return text, secret


@given(_embedded_secret())
def test_generated_credentials_never_survive(case: tuple[str, str]) -> None:
    text, secret = case
    assert secret not in redact_text(text)
    assert secret not in json.dumps(redact({"payload": text}))


# ------------------------------------------------- where strings leave the process (issue 26)
def test_safe_url_keeps_scheme_host_port_and_path_only() -> None:
    from guardrail.redaction import safe_url

    url = f"http://svc:{SECRET}@scorer.internal:8000/v1/?api_key={SECRET}#frag"
    assert safe_url(url) == "http://scorer.internal:8000/v1/"
    assert safe_url("https://[::1]:9/x") == "https://[::1]:9/x"
    assert SECRET not in safe_url(f"not a url but password={SECRET}")


def test_describe_error_is_one_bounded_redacted_printable_line() -> None:
    from guardrail.redaction import describe_error

    error = RuntimeError(f"POST http://u:{SECRET}@h/score failed \x1b[2J" + "x" * 5000)
    line = describe_error(error, limit=120)
    assert len(line) <= 120
    assert line.startswith("RuntimeError: POST http://")
    assert SECRET not in line
    assert "\x1b" not in line
    assert "\\x1b[2J" in line


def test_httpx_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from guardrail.redaction import RedactingFilter, install_log_redaction

    install_log_redaction()
    install_log_redaction()  # idempotent (other libraries' filters, e.g. litellm's, may sit beside)
    ours = [f for f in logging.getLogger("httpx").filters if isinstance(f, RedactingFilter)]
    assert len(ours) == 1
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s"', "POST", f"http://u:{SECRET}@h/score?token={SECRET}", "200"
        )
        logging.getLogger("httpcore.http11").info("send %s", f"Bearer {SECRET}")
    assert caplog.records
    assert SECRET not in caplog.text


def test_cli_errors_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    from guardrail.cli import dispatch
    from guardrail.errors import ScorerUnavailableError

    def fail(_: object) -> int:
        raise ScorerUnavailableError(f"POST http://svc:{SECRET}@h/score?token={SECRET} failed")

    import argparse

    assert dispatch(argparse.Namespace(func=fail)) == 1
    err = capsys.readouterr().err
    assert "POST http://" in err
    assert SECRET not in err


def test_our_own_loggers_are_redacted_once_installed(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from guardrail.redaction import install_log_redaction

    install_log_redaction()
    with caplog.at_level(logging.WARNING, logger="guardrail.audit"):
        logging.getLogger("guardrail.audit").error("lost a record: %s", f"password={SECRET}")
        try:
            raise ConnectionError(f"postgresql://me:{SECRET}@db/app")
        except ConnectionError:
            logging.getLogger("guardrail.audit").exception("write failed")
    assert "lost a record" in caplog.text
    assert "ConnectionError" in caplog.text
    assert SECRET not in caplog.text
