"""What every candidate is measured on: one graded estimate point with its input features.

A :class:`Row` is a question alone (``question`` stage, target: the Monte Carlo fraction of
sampled answers that were right), a partial answer (``process``, the fraction of its sampled
completions that were right) or a finished answer (``outcome``, 1 right or 0 wrong). Its
``features`` are the confidences the candidates read, computed once per answer and shared by
every candidate, so that they are compared on the same answers:

* ``finece_question``, ``finece_outcome``: the shipped FineCE scorer's estimate before the
  answer and at this point (the names :data:`guardrail.combiner.HYBRID_FEATURES` uses);
* ``mean_logprob``, ``min_window``, ``mean_entropy``: the generator's raw logprob signals of the
  answer so far (absent on a question row: no token yet);
* ``agreement``: the share of the other sampled answers to the question that the checker
  grades the same way (second tier: it costs ``k`` samples per question at run time);
* ``finetuned_question``, ``finetuned``: the warm-started fine-tune's estimates, when one ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from guardrail.errors import GuardrailConfigError

__all__ = ["STAGES", "Row", "Stage", "outcome_rows", "read_rows", "write_rows"]

Stage = Literal["question", "process", "outcome"]
STAGES: tuple[Stage, ...] = ("question", "process", "outcome")


@dataclass(frozen=True, slots=True)
class Row:
    """One graded estimate point (module documentation).

    ``answer`` is the answer so far (empty for a question row); ``group`` names where the row
    came from (the split part, or a task family).
    """

    question: str
    stage: Stage
    target: float
    features: Mapping[str, float] = field(default_factory=dict)
    group: str = ""
    answer: str = ""

    @property
    def correct(self) -> bool:
        """For an outcome row: whether the answer was right (target 1)."""
        return self.target >= 0.5

    def with_features(self, extra: Mapping[str, float]) -> Row:
        """The same row with more features."""
        features = {**self.features, **extra}
        return Row(self.question, self.stage, self.target, features, self.group, self.answer)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (one line of a features file)."""
        return {
            "question": self.question,
            "stage": self.stage,
            "target": self.target,
            "features": dict(self.features),
            "group": self.group,
            "answer": self.answer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "row") -> Row:
        """Parse :meth:`to_dict`'s form; a bad field is an error naming ``where``."""
        stage = data.get("stage")
        if stage not in STAGES:
            raise GuardrailConfigError(f"{where}: stage must be one of {STAGES}, got {stage!r}")
        question, target = data.get("question"), data.get("target")
        if not isinstance(question, str) or not isinstance(target, int | float):
            raise GuardrailConfigError(f"{where}: needs a string 'question' and a number 'target'")
        features = data.get("features") or {}
        if not isinstance(features, Mapping):
            raise GuardrailConfigError(f"{where}: 'features' must be an object")
        return cls(
            question,
            stage,
            float(target),
            {str(k): float(v) for k, v in features.items()},
            str(data.get("group", "")),
            str(data.get("answer", "")),
        )


def outcome_rows(rows: Iterable[Row]) -> list[Row]:
    """The finished answers among ``rows``."""
    return [row for row in rows if row.stage == "outcome"]


def write_rows(path: Path, rows: Sequence[Row]) -> None:
    """Write rows as JSONL (atomically: a temporary file renamed over ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row.to_dict()) + "\n")
    tmp.replace(path)


def read_rows(path: Path) -> list[Row]:
    """Read a file written by :func:`write_rows`; errors name ``file:line``."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                rows.append(Row.from_dict(json.loads(line), where=f"{path}:{number}"))
    return rows
