"""Outcome labels from reviewers: decided review items of one generator as graded answers.

A reviewer's verdict grades the answer the guard held:

* ``approve``: the answer was right;
* ``reject``: it was wrong;
* ``edit``: it was wrong, and the edited answer is the reference (``ReviewLabel.reference``),
  what a checker of the user's kind of question would compare a new answer with.

:func:`labels_from_review` reads a review store (an SQLite path, ``sqlite:///PATH`` or a
``postgresql://`` URL) and keeps the decided items of one generator (its ``model``, compared
with :func:`guardrail.scorers.card.same_model`, so ``builtin:`` and provider prefixes aside).
Items of other generators, items without a model name and held partial answers (the guard cut
the generation short: not the generator's finished answer) are skipped and counted. Each label
converts to the lab's graded answer (:class:`guardrail.lab.graded.GradedAnswer`) and to a row of
a graded JSONL file (``question``, ``answer``, ``correct``, plus the review's fields), the shape
``guardrail calibrate`` and ``guardrail adapt`` read.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from guardrail.errors import GuardrailConfigError
from guardrail.lab.graded import GradedAnswer, GradedFile
from guardrail.review import ReviewItem, ReviewStatus, Verdict, open_review_store
from guardrail.scorers.card import same_model

__all__ = [
    "DECIDED",
    "ReviewLabel",
    "ReviewLabels",
    "labels_from_items",
    "labels_from_review",
]

VerdictName = Literal["approve", "edit", "reject"]

DECIDED: tuple[ReviewStatus, ...] = (
    ReviewStatus.APPROVED,
    ReviewStatus.EDITED,
    ReviewStatus.REJECTED,
)
"""The statuses of a decided item."""

GROUP = "review"
"""The ``group`` of every graded answer made from a review (where it came from)."""


@dataclass(frozen=True, slots=True)
class ReviewLabel:
    """One decided review item as an outcome label.

    ``correct`` is true for ``approve`` only; ``reference`` is the edited answer of an
    ``edit`` (``None`` otherwise). ``confidence`` is the live confidence that sent the answer to
    review (``None`` when the item has none), ``model`` the generator's name on the item.
    """

    review_id: str
    question: str
    answer: str
    correct: bool
    verdict: VerdictName
    reference: str | None
    confidence: float | None
    model: str | None
    decided_at: datetime
    queue: str = "default"
    rule: str | None = None

    def graded(self) -> GradedAnswer:
        """The lab's graded answer: the question as one user message, no logprobs."""
        messages = ({"role": "user", "content": self.question},)
        return GradedAnswer(self.question, self.answer, self.correct, messages, group=GROUP)

    def to_row(self) -> dict[str, Any]:
        """A graded JSONL row: ``question``, ``answer``, ``correct`` and the review's fields."""
        row: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "correct": self.correct,
        }
        if self.reference is not None:
            row["reference"] = self.reference
        row.update(
            {
                "confidence": self.confidence,
                "verdict": self.verdict,
                "model": self.model,
                "review_id": self.review_id,
                "decided_at": self.decided_at.isoformat(),
                "queue": self.queue,
                "rule": self.rule,
            }
        )
        return row


@dataclass(frozen=True, slots=True)
class ReviewLabels:
    """The labels read from a review store, and what was left out and why.

    ``labels`` are in decision order (oldest first). ``skipped_other_generators`` counts the
    decided items of each other model name; ``skipped_no_model`` those without one (only when
    a generator was asked for); ``skipped_partial`` the held partial answers.
    """

    labels: tuple[ReviewLabel, ...]
    generator: str | None
    source: str
    skipped_other_generators: Mapping[str, int] = field(default_factory=dict)
    skipped_no_model: int = 0
    skipped_partial: int = 0

    @property
    def skipped(self) -> int:
        """Decided items left out, for any reason."""
        others = sum(self.skipped_other_generators.values())
        return others + self.skipped_no_model + self.skipped_partial

    def graded_file(self) -> GradedFile:
        """The labels as the lab's graded answers (:func:`guardrail.lab.graded.read_graded`)."""
        return GradedFile(tuple(label.graded() for label in self.labels), self.generator)

    def with_confidence(self) -> tuple[list[float], list[bool]]:
        """``(confidences, outcomes)`` of the labels that carry a live confidence."""
        pairs = [(x.confidence, x.correct) for x in self.labels if x.confidence is not None]
        return [c for c, _ in pairs], [ok for _, ok in pairs]

    def write_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write one graded row per label (:meth:`ReviewLabel.to_row`) to ``path``."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as handle:
            for label in self.labels:
                handle.write(json.dumps(label.to_row(), ensure_ascii=False) + "\n")
        return target

    def describe(self) -> str:
        """One line: how many labels, how many right, and what was skipped."""
        right = sum(1 for label in self.labels if label.correct)
        text = f"{len(self.labels)} decided review item(s) of {self.generator or 'any generator'}"
        text += f" from {self.source}: {right} approved (right), {len(self.labels) - right} "
        text += "rejected or edited (wrong)"
        return text + (f"; {self._skipped_text()}" if self.skipped else "")

    def _skipped_text(self) -> str:
        others = sorted(self.skipped_other_generators.items())
        parts = [f"{count} of {model!r}" for model, count in others]
        if self.skipped_no_model:
            parts.append(f"{self.skipped_no_model} without a model name")
        if self.skipped_partial:
            parts.append(f"{self.skipped_partial} held partial answer(s)")
        return "skipped " + ", ".join(parts)


def _label(item: ReviewItem) -> ReviewLabel:
    decision = item.decision
    assert decision is not None  # the caller keeps decided items only
    return ReviewLabel(
        review_id=item.id,
        question=item.question,
        answer=item.answer,
        correct=decision.verdict is Verdict.APPROVE,
        verdict=decision.verdict.value,
        reference=decision.edited_answer if decision.verdict is Verdict.EDIT else None,
        confidence=item.confidence,
        model=item.model,
        decided_at=decision.decided_at,
        queue=item.queue,
        rule=item.rule,
    )


def labels_from_items(
    items: Iterable[ReviewItem],
    *,
    generator: str | None,
    source: str = "review items",
    last: int | None = None,
    include_partial: bool = False,
) -> ReviewLabels:
    """The labels of the decided ``items`` of ``generator`` (``None``: of every generator).

    Pending items are ignored. ``last`` keeps the ``last`` most recently decided labels.
    Raises :class:`GuardrailConfigError` when no decided item of the generator is left, saying
    what was there instead.
    """
    if last is not None and last < 1:
        raise GuardrailConfigError(f"last must be >= 1, got {last}")
    kept: list[ReviewLabel] = []
    others: Counter[str] = Counter()
    no_model = partial = 0
    for item in items:
        if item.decision is None:
            continue
        if generator is not None and item.model is None:
            no_model += 1
        elif generator is not None and not same_model(item.model or "", generator):
            others[item.model or ""] += 1
        elif item.partial and not include_partial:
            partial += 1
        else:
            kept.append(_label(item))
    kept.sort(key=lambda label: label.decided_at)
    if last is not None:
        kept = kept[-last:]
    labels = ReviewLabels(tuple(kept), generator, source, dict(others), no_model, partial)
    if not kept:
        raise GuardrailConfigError(_nothing_decided(labels))
    return labels


def _nothing_decided(labels: ReviewLabels) -> str:
    wanted = f"generator {labels.generator!r}" if labels.generator else "any generator"
    text = f"{labels.source}: no decided review item of {wanted}"
    if labels.skipped:
        return f"{text} ({labels._skipped_text()})"
    return f"{text}: decide some first (guardrail review decide ID approve|edit|reject)"


def labels_from_review(
    url_or_path: str | os.PathLike[str],
    *,
    generator: str | None,
    last: int | None = None,
    queue: str | None = None,
    since: datetime | None = None,
    include_partial: bool = False,
) -> ReviewLabels:
    """The outcome labels of ``generator``'s decided items in the review store at ``url_or_path``.

    ``url_or_path`` is an SQLite file, ``sqlite:///PATH`` or a ``postgresql://`` URL (a missing
    SQLite file is an error, not a new queue). ``queue`` and ``since`` (aware datetime, by
    creation time) filter the items, ``last`` keeps the most recently decided ones; see
    :func:`labels_from_items` for the rest.
    """
    store = open_review_store(url_or_path, create=False)
    try:
        items = store.list(status=DECIDED, queue=queue, since=since)
    finally:
        store.close()
    return labels_from_items(
        items,
        generator=generator,
        source=f"review store {os.fspath(url_or_path)}",
        last=last,
        include_partial=include_partial,
    )
