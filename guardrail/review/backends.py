"""How a location picks a review store: SQLite files (the default) or a PostgreSQL URL."""

from __future__ import annotations

import os

from guardrail.review.store import ReviewStore, default_review_db

__all__ = ["open_review_store"]


def open_review_store(
    target: str | os.PathLike[str] | None = None, *, create: bool = True
) -> ReviewStore:
    """The review store at ``target``.

    ``target`` is a path or ``sqlite:///PATH`` (an SQLite file) or a ``postgresql://`` URL;
    ``None`` means :func:`default_review_db`. With ``create=False`` a missing SQLite file is
    an error instead of a new, empty queue.
    """
    from guardrail.storage.url import parse_database_url

    location = parse_database_url(
        default_review_db() if target is None else target, what="review database"
    )
    if location.backend == "postgresql":
        from guardrail.review.postgres import PostgresReviewQueue

        assert location.dsn is not None
        return PostgresReviewQueue(location.dsn)
    from guardrail.review.sqlite import SQLiteReviewQueue

    return SQLiteReviewQueue(location.path, create=create)
