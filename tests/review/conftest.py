from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from webhook_server import WebhookServer, make_handler

from guardrail.events import CheckpointEvent, Stage
from guardrail.review import ReviewItem, ReviewStore, SQLiteReviewQueue, open_review_store

_counter = itertools.count()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "review.db"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[SQLiteReviewQueue]:
    with SQLiteReviewQueue(db_path) as queue:
        yield queue


@pytest.fixture(params=["sqlite", "postgres"])
def review_db(request: pytest.FixtureRequest, db_path: Path) -> str:
    """Where a review queue lives: an SQLite file, or a new database on the test server."""
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(review_db: str) -> Iterator[ReviewStore]:
    """The same store tests run against both backends."""
    queue = open_review_store(review_db)
    try:
        yield queue
    finally:
        queue.close()


def make_checkpoint(index: int = 1, confidence: float = 0.2) -> CheckpointEvent:
    return CheckpointEvent(
        index=index,
        stage=Stage.PROCESS,
        reason="paragraph",
        token_index=12 * index,
        char_start=0,
        char_end=40,
        confidence=confidence,
        revised=confidence,
        latency_s=0.01,
    )


@pytest.fixture
def make_item() -> Callable[..., ReviewItem]:
    def make(**fields: Any) -> ReviewItem:
        n = next(_counter)
        defaults: dict[str, Any] = {
            "question": f"What is {n} + {n}?",
            "answer": f"It is {2 * n}",
            "confidence": 0.25,
            "rule": "low-confidence",
            "model": "smollm2-135m",
            "events": [make_checkpoint(0, 0.5), make_checkpoint(1, 0.25)],
        }
        defaults.update(fields)
        return ReviewItem(**defaults)

    return make


@pytest.fixture
def checkpoint() -> Callable[..., CheckpointEvent]:
    return make_checkpoint


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    state = WebhookServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/T0K3N-in-path?sig=Q-SECRET"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()
