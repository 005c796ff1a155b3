"""Human review: a durable queue of answers held for a decision, and sinks that announce them.

>>> from guardrail.review import ReviewItem, ReviewQueue
>>> queue = ReviewQueue(path="review.db")  # or a postgresql:// URL   # doctest: +SKIP
>>> item = queue.enqueue(ReviewItem(question="q", answer="a"), dedupe_key="run-1")  # doctest: +SKIP
>>> queue.wait(item.id, timeout_s=600).final_answer                # doctest: +SKIP
"""

from guardrail.review.backends import open_review_store
from guardrail.review.errors import (
    AlreadyDecidedError,
    InvalidDecisionError,
    InvalidRowError,
    ItemClaimedError,
    ReviewError,
    ReviewItemNotFoundError,
    ReviewNotifyError,
    ReviewPermissionError,
    ReviewStoreError,
    ReviewTimeoutError,
    WebhookDeliveryError,
)
from guardrail.review.models import ReviewAttempt, ReviewDecision, ReviewItem, ReviewStatus, Verdict
from guardrail.review.postgres import PostgresReviewQueue
from guardrail.review.queue import ReviewQueue
from guardrail.review.sinks import ReviewEvent, ReviewSink
from guardrail.review.sqlite import SQLiteReviewQueue
from guardrail.review.store import (
    ExportFormat,
    ReviewStore,
    default_review_db,
    default_review_db_path,
)
from guardrail.review.webhook import DeliveryReport, WebhookSink, sign, verify_signature

__all__ = [
    "AlreadyDecidedError",
    "DeliveryReport",
    "ExportFormat",
    "InvalidDecisionError",
    "InvalidRowError",
    "ItemClaimedError",
    "PostgresReviewQueue",
    "ReviewAttempt",
    "ReviewDecision",
    "ReviewError",
    "ReviewEvent",
    "ReviewItem",
    "ReviewItemNotFoundError",
    "ReviewNotifyError",
    "ReviewPermissionError",
    "ReviewQueue",
    "ReviewSink",
    "ReviewStatus",
    "ReviewStore",
    "ReviewStoreError",
    "ReviewTimeoutError",
    "SQLiteReviewQueue",
    "Verdict",
    "WebhookDeliveryError",
    "WebhookSink",
    "default_review_db",
    "default_review_db_path",
    "open_review_store",
    "sign",
    "verify_signature",
]
