"""Training examples from a label store: loading, question-level splits and statistics."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError

__all__ = [
    "TrainingExample",
    "adversarial_twins",
    "augment_adversarial",
    "data_hash",
    "label_stats",
    "load_examples",
    "sample_questions",
    "split_by_question",
]


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """One ``(question, answer prefix) -> confidence`` pair."""

    question_id: str
    question: str
    prefix: str
    label: float
    kind: str


def load_examples(paths: Sequence[str | Path]) -> list[TrainingExample]:
    """Every label of every finished question in the given label stores."""
    from guardrail.lab.data.store import read_labels

    examples: list[TrainingExample] = []
    for path in paths:
        if not Path(path).is_file():
            raise GuardrailConfigError(f"label file not found: {path}")
        for number, record in enumerate(read_labels(path), start=1):
            try:
                examples.append(
                    TrainingExample(
                        question_id=str(record["question_id"]),
                        question=str(record["question"]),
                        prefix=str(record.get("prefix", "")),
                        label=float(record["label"]),
                        kind=str(record["text_kind"]),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise GuardrailConfigError(
                    f"{path}: label record {number} is malformed: {exc}"
                ) from exc
    if not examples:
        raise GuardrailConfigError(f"no finished labels in {', '.join(map(str, paths))}")
    return examples


def sample_questions(
    examples: Sequence[TrainingExample], count: int, seed: int
) -> list[TrainingExample]:
    """Every example of a seeded sample of ``count`` questions (all when there are fewer).

    The samples are nested: the questions kept for a smaller ``count`` are among those kept for
    a larger one (same seed), so the points of a learning curve add labels, never swap them.
    """
    questions = sorted({e.question_id for e in examples})
    random.Random(f"questions:{seed}").shuffle(questions)
    kept = set(questions[:count])
    return [e for e in examples if e.question_id in kept]


def split_by_question(
    examples: Sequence[TrainingExample], dev_fraction: float, seed: int
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """Split so that every prefix of a question lands on the same side (no leakage)."""
    if not 0.0 <= dev_fraction < 1.0:
        raise GuardrailConfigError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    questions = sorted({e.question_id for e in examples})
    random.Random(seed).shuffle(questions)
    n_dev = round(len(questions) * dev_fraction)
    if dev_fraction > 0 and n_dev == 0 and len(questions) > 1:
        n_dev = 1
    dev_ids = set(questions[:n_dev])
    train = [e for e in examples if e.question_id not in dev_ids]
    dev = [e for e in examples if e.question_id in dev_ids]
    return train, dev


def augment_adversarial(
    examples: Sequence[TrainingExample], fraction: float, seed: int
) -> list[TrainingExample]:
    """``examples`` plus, for ``fraction`` of those with an answer, a copy with a suffix.

    The suffix (:func:`guardrail.lab.adversarial.augment_text`, a random family and direction)
    claims something about the answer; the copy keeps the original label, because the label is
    the answer's correctness, not what the answer says about itself. Seeded.
    """
    from dataclasses import replace

    from guardrail.lab.adversarial import augment_text

    if not 0.0 <= fraction <= 1.0:
        raise GuardrailConfigError(f"adversarial_augment must be in [0, 1], got {fraction}")
    rng = random.Random(f"adversarial:{seed}")
    candidates = [e for e in examples if e.prefix]
    chosen = rng.sample(candidates, round(fraction * len(candidates)))
    return [*examples, *(replace(e, prefix=augment_text(e.prefix, rng)) for e in chosen)]


def adversarial_twins(
    batch: Sequence[TrainingExample], fraction: float, rng: random.Random
) -> list[tuple[int, TrainingExample]]:
    """``(index in batch, twin)`` for ``fraction`` of the batch's examples with an answer.

    A twin is the example with a training suffix (:func:`guardrail.lab.adversarial.augment_text`)
    appended and the same label; at least one twin when ``fraction > 0`` and any example has an
    answer.
    """
    from dataclasses import replace

    from guardrail.lab.adversarial import augment_text

    candidates = [i for i, e in enumerate(batch) if e.prefix]
    if not fraction or not candidates:
        return []
    count = max(1, round(fraction * len(candidates)))
    return [
        (i, replace(batch[i], prefix=augment_text(batch[i].prefix, rng)))
        for i in sorted(rng.sample(candidates, count))
    ]


def label_stats(examples: Iterable[TrainingExample]) -> dict[str, Any]:
    """Counts by kind, a tenths histogram and the mean label."""
    items = list(examples)
    histogram = Counter(min(int(e.label * 10), 9) for e in items)
    return {
        "examples": len(items),
        "questions": len({e.question_id for e in items}),
        "by_kind": dict(Counter(e.kind for e in items)),
        "histogram_tenths": [histogram.get(i, 0) for i in range(10)],
        "mean_label": sum(e.label for e in items) / len(items) if items else None,
    }


def data_hash(paths: Sequence[str | Path]) -> str:
    """SHA-256 over the label files' bytes, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()
