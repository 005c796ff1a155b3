from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.storage import is_postgres_url, parse_database_url, redact_url


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
    shown = str(parse_database_url(f"postgresql://user:{password}@host/db", what="x"))
    assert shown == "postgresql://user:***@host/db"
