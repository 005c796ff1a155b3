from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.storage import is_postgres_url, parse_database_url, redact_url
from guardrail.storage.url import scrub_secrets, url_secrets


def test_paths_and_sqlite_urls_are_sqlite(tmp_path: Path) -> None:
    assert parse_database_url(tmp_path / "q.db", what="x").path == tmp_path / "q.db"
    assert parse_database_url("relative/q.db", what="x").path == Path("relative/q.db")
    assert parse_database_url("sqlite:///relative/q.db", what="x").path == Path("relative/q.db")
    absolute = parse_database_url("sqlite:////var/lib/q%20x.db", what="x")
    assert (absolute.backend, absolute.path) == ("sqlite", Path("/var/lib/q x.db"))


def test_postgres_urls() -> None:
    for url in (
        "postgresql://u:pw@h:5432/db",
        "postgres://h/db",
        "POSTGRESQL://h/db?sslmode=require",
    ):
        parsed = parse_database_url(url, what="x")
        assert (parsed.backend, parsed.dsn) == ("postgresql", url)
        assert is_postgres_url(url)
    assert "pw" not in str(parse_database_url("postgresql://u:pw@h/db", what="x"))
    assert redact_url("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_url("postgresql://h/db") == "postgresql://h/db"
    assert not is_postgres_url("q.db")


def test_bad_locations_name_what_is_wrong() -> None:
    with pytest.raises(GuardrailConfigError, match=r"review database 'mysql://h/db': unknown"):
        parse_database_url("mysql://h/db", what="review database")
    with pytest.raises(GuardrailConfigError, match="names no file"):
        parse_database_url("sqlite:///", what="audit log")
    with pytest.raises(GuardrailConfigError, match="fragment"):
        parse_database_url("postgresql://u:pw@h/db#x", what="audit log")


@given(st.text(max_size=80))
def test_parsing_never_crashes(text: str) -> None:
    try:
        parsed = parse_database_url(text, what="x")
    except GuardrailConfigError as exc:
        assert "x" in str(exc)  # noqa: PT017 - the message names what was being parsed
        return
    assert parsed.backend in ("sqlite", "postgresql")


@given(st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=%", min_size=4))
def test_a_password_never_shows(password: str) -> None:
    url = f"postgresql://user:{password}@host/db"
    try:
        shown = str(parse_database_url(url, what="x"))
    except GuardrailConfigError as exc:  # a bad %-escape: the message names the password
        assert "'postgresql://user:***@host/db': the password has a bad %-escape" in str(exc)  # noqa: PT017
        return
    assert shown == "postgresql://user:***@host/db"


@pytest.mark.parametrize(
    ("url", "wrong"),
    [
        ("postgresql://h:99999/db", "port '99999' is not a number from 1 to 65535"),
        ("postgresql://h:5432,g:abc/db", "port 'abc' is not a number from 1 to 65535"),
        ("postgresql://h/db?port=0", "port '0' is not a number from 1 to 65535"),
        ("postgresql://h/db?sslmode=requir", "sslmode 'requir' is not one of disable, allow"),
        ("postgresql://h/db?sslmode=requir", "did you mean 'require'?"),
        ("postgresql://h/db?target_session_attrs=rw", "target_session_attrs 'rw' is not one of"),
        ("postgresql://h/db?connect_timeout=soon", "connect_timeout 'soon' is not an integer"),
        ("postgresql://u:p@ss@h/db", "the user information has an unencoded '@' (write it as %40)"),
        ("postgresql://u:p%zz@h/db", "the password has a bad %-escape"),
        ("postgresql://u%g@h/db", "the user name has a bad %-escape"),
        ("postgresql://h/d%b", "the database name has a bad %-escape"),
        ("postgresql://h/db?sslmode", "query parameter 'sslmode' has no name=value"),
        ("postgresql://[::1/db", "cannot be parsed"),
        ("mysql://u:pw@h/db", "unknown scheme 'mysql'"),
        ("postgresql+psycopg://u:pw@h/db", "unknown scheme 'postgresql+psycopg'"),
        ("postgresql:/h/db", "a URL needs '://' after 'postgresql'"),
        ("postgres:u:pw@h/db", "a URL needs '://' after 'postgres'"),
        ("sqlite://review.db", "an SQLite URL is sqlite:///PATH"),
    ],
)
def test_malformed_postgres_urls_name_the_wrong_part(url: str, wrong: str) -> None:
    with pytest.raises(GuardrailConfigError) as info:
        parse_database_url(url, what="review database")
    message = str(info.value)
    assert wrong in message
    assert message.startswith("review database")
    for secret in ("pw", "p@ss", "p%zz"):
        assert f":{secret}@" not in message


def test_query_passwords_are_masked_everywhere() -> None:
    url = "postgresql://u:pw1@h/db?password=QPW&sslmode=require&sslpassword=KEYPW&api_key=K9"
    shown = "postgresql://u:***@h/db?password=***&sslmode=require&sslpassword=***&api_key=***"
    assert redact_url(url) == shown
    parsed = parse_database_url(url, what="x")
    assert str(parsed) == shown
    assert repr(parsed) == f"DatabaseURL(backend='postgresql', dsn={shown!r})"
    assert url_secrets(url) == ("KEYPW", "QPW", "pw1", "K9")
    text = 'libpq: invalid value "QPW" near pw1, password=hunter2'
    assert scrub_secrets(text, url_secrets(url)) == (
        'libpq: invalid value "***" near ***, password=[REDACTED]'
    )
    with pytest.raises(GuardrailConfigError) as info:
        parse_database_url(url.replace("sslmode=require", "sslmode=on"), what="x")
    for secret in url_secrets(url):
        assert secret not in str(info.value)


# A marker no message has otherwise, then anything a password may hold unencoded.
_SECRET = st.text(alphabet=string.ascii_letters + string.digits + "-._~!$'()*+,;").map(
    lambda tail: "S3kr" + tail
)


@given(password=_SECRET, query_password=_SECRET, port=st.integers(-5, 70_000))
def test_no_password_shows_in_any_message(password: str, query_password: str, port: int) -> None:
    url = f"postgresql://user:{password}@host:{port}/db?password={query_password}&sslmode=x"
    try:
        parse_database_url(url, what="review database")
    except GuardrailConfigError as exc:
        message = str(exc)
    else:  # pragma: no cover - sslmode=x is always refused
        raise AssertionError("sslmode=x was accepted")
    assert password not in message
    assert query_password not in message
    assert password not in redact_url(url)
    assert query_password not in redact_url(url)
