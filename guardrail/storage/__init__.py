"""Where the review queue and the audit log keep their data: an SQLite file or a PostgreSQL URL.

:func:`parse_database_url` tells the two apart; :mod:`guardrail.storage.postgres` holds the
PostgreSQL plumbing (pools, versioned migrations, ``LISTEN/NOTIFY`` waits) shared by
:class:`guardrail.review.postgres.PostgresReviewQueue` and
:class:`guardrail.audit.postgres.PostgresAuditLog`. Nothing here imports ``psycopg`` until a
PostgreSQL URL is used.
"""

from guardrail.storage.url import DatabaseURL, is_postgres_url, parse_database_url, redact_url

__all__ = ["DatabaseURL", "is_postgres_url", "parse_database_url", "redact_url"]
