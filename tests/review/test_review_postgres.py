"""PostgreSQL-only behaviour of the review queue (the shared suite is test_review_store.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.review import (
    PostgresReviewQueue,
    ReviewItem,
    ReviewQueue,
    ReviewStatus,
    ReviewStoreError,
    _pg_schema,
    open_review_store,
)

psycopg = pytest.importorskip("psycopg")

MakeItem = Callable[..., ReviewItem]


def _versions(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT component, version FROM guardrail_schema").fetchall()


def test_the_url_picks_the_backend(postgres_url: str, tmp_path: object) -> None:
    with open_review_store(postgres_url) as store:
        assert isinstance(store, PostgresReviewQueue)
    assert _versions(postgres_url) == [("review", len(_pg_schema.MIGRATIONS))]
    with ReviewQueue(path=postgres_url) as queue:
        assert isinstance(queue.store, PostgresReviewQueue)


def test_a_version_1_database_is_migrated_on_first_use(
    postgres_url: str, make_item: MakeItem
) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute(_pg_schema.MIGRATIONS[0].encode())
        conn.execute("CREATE TABLE guardrail_schema (component text PRIMARY KEY, version int)")
        conn.execute("INSERT INTO guardrail_schema VALUES ('review', 1)")
        conn.execute(
            "INSERT INTO review_items (id, created_at, status, queue, question, answer, partial,"
            " events, attempts, metadata) VALUES ('old', now(), 'pending', 'default', 'q', 'a',"
            " false, '[]', '[]', '{}')"
        )
    with PostgresReviewQueue(postgres_url) as store:
        assert store.get("old").claimed_by is None
        claimed = store.claim("ann")
        assert claimed is not None
        assert claimed.id == "old"
    assert _versions(postgres_url) == [("review", len(_pg_schema.MIGRATIONS))]


def test_concurrent_first_opens_migrate_once(postgres_url: str) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            PostgresReviewQueue(postgres_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert _versions(postgres_url) == [("review", len(_pg_schema.MIGRATIONS))]


def test_newer_schema_is_refused(postgres_url: str) -> None:
    PostgresReviewQueue(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE guardrail_schema SET version = 99 WHERE component = 'review'")
    with pytest.raises(GuardrailConfigError, match="newer"):
        PostgresReviewQueue(postgres_url)


def test_wait_sleeps_on_notify_instead_of_polling(
    postgres_url: str, make_item: MakeItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PostgresReviewQueue(postgres_url) as store:
        item = store.enqueue(make_item())
        reads = 0
        get = store.get

        def counting_get(item_id: str) -> ReviewItem:
            nonlocal reads
            reads += 1
            return get(item_id)

        monkeypatch.setattr(store, "get", counting_get)
        timer = threading.Timer(1.0, store.decide, args=(item.id, "approve", "ann"))
        timer.start()
        try:
            decided = store.wait(item.id, timeout_s=60, poll_s=0.001)
        finally:
            timer.join()
        assert decided.status is ReviewStatus.APPROVED
        # One read before sleeping, one after the NOTIFY (plus at most one wake-up when the
        # listener connected); a 1 ms polling loop would have read hundreds of times.
        assert reads <= 3


def test_bad_input_and_unreachable_servers_are_clear_errors(
    postgres_url: str, make_item: MakeItem
) -> None:
    with PostgresReviewQueue(postgres_url) as store:
        with pytest.raises(ReviewStoreError, match=r"review database .*0x00") as info:
            store.enqueue(make_item(question="nul \x00 byte"))
        assert not info.value.is_retryable
        assert "secret" not in repr(store)
    with pytest.raises(ReviewStoreError) as info:
        PostgresReviewQueue("postgresql://u:secret@127.0.0.1:1/db", retry_s=0, connect_timeout_s=1)
    assert info.value.is_retryable
    assert "secret" not in str(info.value)
    with pytest.raises(GuardrailConfigError, match="unknown scheme 'mysql'"):
        open_review_store("mysql://db/x")
    store = PostgresReviewQueue(postgres_url)
    store.close()
    with pytest.raises(ReviewStoreError, match="closed"):
        store.get("x")


def test_a_bad_row_is_reported_and_skipped(postgres_url: str, make_item: MakeItem) -> None:
    with PostgresReviewQueue(postgres_url) as store:
        good = store.enqueue(make_item())
        bad = store.enqueue(make_item())
        with psycopg.connect(postgres_url) as conn:
            conn.execute("UPDATE review_items SET events = '\"x\"' WHERE id = %s", (bad.id,))
        skipped: list[ReviewStoreError] = []
        assert [item.id for item in store.list(on_invalid=skipped.append)] == [good.id]
        [error] = skipped
        assert str(error).startswith(
            f"review item {bad.id!r} in the database is invalid (ValidationError: 1 validation "
            "error for ReviewItem events Input should be a valid list"
        )
        with pytest.raises(ReviewStoreError, match="invalid"):
            store.get(bad.id)
