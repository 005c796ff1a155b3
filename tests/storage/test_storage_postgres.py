"""PostgreSQL URLs against a real server: fail fast on a wrong one, never show a secret."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import pytest

from guardrail.audit.postgres import PostgresAuditLog
from guardrail.errors import GuardrailConfigError
from guardrail.review import PostgresReviewQueue, ReviewError, open_review_store

pytest.importorskip("psycopg")

SECRET = "S3kr1t-pw-value"
QUERY_SECRET = "Q-S3kr1t-value"
Run = Callable[..., tuple[int, str, str]]


def _with(url: str, *, password: str | None = None, path: str | None = None, query: str) -> str:
    """``url`` with a password in its user information, another path, and a query."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user}:{password}@{host}"
    return urlunsplit(parts._replace(netloc=netloc, path=path or parts.path, query=query))


@pytest.fixture
def run(cli_for: Callable[..., Run]) -> Run:
    return cli_for("guardrail.cli.review")


@pytest.mark.parametrize(
    ("query", "wrong"),
    [
        ("sslmode=bogus", "sslmode 'bogus' is not one of"),
        ("port=99999", "port '99999' is not a number"),
        ("bogus_option=1", 'invalid URI query parameter: "bogus_option"'),
    ],
)
@pytest.mark.parametrize("opener", [PostgresReviewQueue, PostgresAuditLog])
def test_a_malformed_url_is_a_config_error_before_any_pool(
    postgres_url: str,
    query: str,
    wrong: str,
    opener: Callable[..., object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = _with(postgres_url, password=SECRET, query=f"password={QUERY_SECRET}&{query}")
    caplog.set_level(logging.DEBUG)
    # A pool would retry for retry_s and then raise PoolTimeout; the URL is refused first.
    with pytest.raises(GuardrailConfigError, match=wrong) as info:
        opener(url, retry_s=300.0)
    assert "error connecting" not in caplog.text
    for secret in (SECRET, QUERY_SECRET):
        assert secret not in str(info.value)
        assert secret not in caplog.text


@pytest.mark.parametrize("opener", [PostgresReviewQueue, PostgresAuditLog])
def test_a_database_the_server_refuses_fails_at_once(
    postgres_url: str, opener: Callable[..., object]
) -> None:
    url = _with(postgres_url, path="/no_such_database", query=f"password={QUERY_SECRET}")
    with pytest.raises(GuardrailConfigError, match='database "no_such_database" does not exist'):
        opener(url, retry_s=300.0)


def test_no_url_secret_in_show_errors_repr_or_the_pool_logs(
    postgres_url: str, run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    # The test server trusts loopback connections: the passwords are carried, never checked.
    url = _with(postgres_url, password=SECRET, query=f"password={QUERY_SECRET}&sslmode=disable")
    caplog.set_level(logging.DEBUG)
    with open_review_store(url) as store:
        shown = [repr(store), str(getattr(store, "url", ""))]
        with pytest.raises(ReviewError) as info:
            store.get("no-such-item")
        shown.append(str(info.value))
        # What psycopg_pool writes when a connection fails quotes libpq, which may quote us.
        logging.getLogger("psycopg.pool").warning(
            "error connecting in %r: %s", "pool", f'invalid token "{QUERY_SECRET}" in {url}'
        )
        logging.getLogger("psycopg").warning("conninfo %s", f"password={SECRET}")
    code, out, err = run("review", "show", "no-such-item", "--db", url)
    assert code == 1
    assert "no review item with id 'no-such-item'" in err
    shown += [out, err, caplog.text]
    for text in shown:
        assert SECRET not in text
        assert QUERY_SECRET not in text
    assert "?password=" in err  # the parameter is named, its value masked
    assert "error connecting in 'pool'" in caplog.text
