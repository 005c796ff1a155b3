from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from pydantic import ValidationError

import guardrail.review as review
from guardrail.events import CheckpointEvent
from guardrail.review import ReviewDecision, ReviewItem, ReviewStatus, Verdict


def test_public_api_is_pinned() -> None:
    assert sorted(review.__all__) == sorted(
        [
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
    )
    for name in review.__all__:
        assert getattr(review, name) is not None


def test_item_defaults_and_events_as_dicts(checkpoint: Callable[..., CheckpointEvent]) -> None:
    item = ReviewItem(question="q", events=[checkpoint(1, 0.3)])
    assert item.status is ReviewStatus.PENDING
    assert item.queue == "default"
    assert item.created_at.tzinfo is not None
    assert len(item.id) == 32
    assert item.events == [checkpoint(1, 0.3).to_dict()]
    assert item.final_answer is None


def test_unknown_keys_and_lax_types_are_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        ReviewItem(question="q", answr="typo")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ReviewItem(question=42)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ReviewItem(question="q", confidence=1.5)
    with pytest.raises(ValidationError, match="JSON-serializable"):
        ReviewItem(question="q", metadata={"when": datetime(2024, 1, 1)})
    with pytest.raises(ValidationError):
        ReviewItem(question="q", created_at=datetime(2024, 1, 1))  # naive


def test_status_must_match_decision() -> None:
    with pytest.raises(ValidationError, match="does not match"):
        ReviewItem(question="q", status="approved")
    decision = ReviewDecision(verdict="reject", reviewer="ann")
    with pytest.raises(ValidationError, match="does not match"):
        ReviewItem(question="q", decision=decision)
    item = ReviewItem(question="q", status="rejected", decision=decision)
    assert item.status is ReviewStatus.REJECTED


def test_decision_rules() -> None:
    with pytest.raises(ValidationError, match="requires edited_answer"):
        ReviewDecision(verdict="edit", reviewer="ann")
    with pytest.raises(ValidationError, match="only allowed with verdict 'edit'"):
        ReviewDecision(verdict="approve", reviewer="ann", edited_answer="x")
    with pytest.raises(ValidationError):
        ReviewDecision(verdict="maybe", reviewer="ann")
    with pytest.raises(ValidationError):
        ReviewDecision(verdict="approve", reviewer="")
    assert Verdict.EDIT.status is ReviewStatus.EDITED


def test_final_answer_follows_the_verdict() -> None:
    item = ReviewItem(question="q", answer="draft")
    assert item.decided(ReviewDecision(verdict="approve", reviewer="a")).final_answer == "draft"
    edited = item.decided(ReviewDecision(verdict="edit", reviewer="a", edited_answer="better"))
    assert edited.status is ReviewStatus.EDITED
    assert edited.final_answer == "better"
    assert item.decided(ReviewDecision(verdict="reject", reviewer="a")).final_answer is None


def test_json_round_trip() -> None:
    item = ReviewItem(
        question="q",
        answer="a",
        attempts=[{"attempt": 1, "answer": "first", "confidence": 0.1, "action": "retry"}],
        metadata={"user": "u1", "nested": {"k": [1, 2]}},
    )
    assert ReviewItem.model_validate_json(item.model_dump_json()) == item
