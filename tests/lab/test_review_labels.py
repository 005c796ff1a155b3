"""Outcome labels from reviewers' verdicts, read from a real SQLite review store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.lab.graded import read_graded
from guardrail.lab.review_labels import labels_from_review
from guardrail.review import ReviewItem, SQLiteReviewQueue
from guardrail.testing.reviews import Decided, add_decided

EMBEDDED = "builtin:smollm2-135m-instruct"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "review.db"
    with SQLiteReviewQueue(path) as store:
        add_decided(
            store,
            [
                Decided(0.9, "approve", question="Capital of France?", answer="Paris"),
                Decided(0.7, "reject", question="Capital of Peru?", answer="Quito"),
                Decided(
                    0.4,
                    "edit",
                    question="2 + 3?",
                    answer="6",
                    edited_answer="5",
                    model="smollm2-135m-instruct",
                ),
                Decided(0.8, "approve", model="gpt-4o-mini"),
                Decided(0.6, "reject", model="gpt-4o-mini"),
                Decided(0.5, "approve", model=None),
                Decided(0.3, "reject", partial=True),
            ],
        )
        store.enqueue(ReviewItem(question="pending?", answer="maybe", model=EMBEDDED))
    return path


def test_verdicts_become_outcome_labels(db: Path) -> None:
    labels = labels_from_review(db, generator=EMBEDDED)
    assert [(x.verdict, x.correct) for x in labels.labels] == [
        ("approve", True),
        ("reject", False),
        ("edit", False),  # the same model without its builtin: prefix
    ]
    edited = labels.labels[2]
    assert (edited.answer, edited.reference) == ("6", "5")
    assert labels.labels[0].reference is None
    assert [x.confidence for x in labels.labels] == [0.9, 0.7, 0.4]
    assert labels.with_confidence() == ([0.9, 0.7, 0.4], [True, False, False])


def test_items_of_other_generators_are_skipped_and_counted(db: Path) -> None:
    labels = labels_from_review(db, generator=EMBEDDED)
    assert labels.skipped_other_generators == {"gpt-4o-mini": 2}
    assert labels.skipped_no_model == 1
    assert labels.skipped_partial == 1
    assert labels.skipped == 4
    text = labels.describe()
    assert "3 decided review item(s)" in text
    assert "2 of 'gpt-4o-mini'" in text
    assert "1 held partial answer(s)" in text


def test_no_generator_takes_every_decided_item(db: Path) -> None:
    labels = labels_from_review(f"sqlite:///{db}", generator=None, include_partial=True)
    assert len(labels.labels) == 7
    assert labels.skipped == 0
    recent = labels_from_review(db, generator=None, last=2)
    assert [x.confidence for x in recent.labels] == [0.6, 0.5]  # the partial answer left out


def test_last_keeps_the_most_recent_decisions(db: Path) -> None:
    recent = labels_from_review(db, generator=EMBEDDED, last=2)
    assert [x.confidence for x in recent.labels] == [0.7, 0.4]


def test_graded_rows_read_back_as_the_lab_s_graded_file(db: Path, tmp_path: Path) -> None:
    labels = labels_from_review(db, generator=EMBEDDED)
    path = labels.write_jsonl(tmp_path / "graded.jsonl")
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert rows[2]["reference"] == "5"
    assert rows[0]["verdict"] == "approve"
    graded = read_graded(path)
    assert [(a.question, a.answer, a.correct) for a in graded.answers] == [
        (a.question, a.answer, a.correct) for a in labels.graded_file().answers
    ]
    assert labels.graded_file().generator == EMBEDDED


def test_no_decided_item_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    with pytest.raises(GuardrailConfigError, match=r"no decided review item of generator 'gpt-5'"):
        labels_from_review(db, generator="gpt-5")
    empty = tmp_path / "empty.db"
    SQLiteReviewQueue(empty).close()
    with pytest.raises(GuardrailConfigError, match="decide some first"):
        labels_from_review(empty, generator=None)
    with pytest.raises(GuardrailConfigError, match="no review database at"):
        labels_from_review(tmp_path / "missing.db", generator=None)
    with pytest.raises(GuardrailConfigError, match="last must be >= 1"):
        labels_from_review(db, generator=None, last=0)
