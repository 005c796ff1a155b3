"""Generated answers saved once and reused, so that several scorers are judged on the same ones.

``guardrail eval --answers FILE``: the first run generates the answers (with their token
logprobs) and the self-consistency samples and writes them to ``FILE`` (JSON lines: a header
with the generator, task and generation settings, then one line per answer); later runs with
the same generator, task, items and settings read them instead of generating, and only score.
Comparing scorers on a slow generator then costs one generation, and the comparison is paired:
every scorer reads exactly the same answers. Anything that differs (another generator, other
items, other settings) is an error that names it; nothing is silently regenerated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError
from guardrail.generation import TokenStep
from guardrail.lab.evaluation.answers import GeneratedAnswer
from guardrail.lab.tasks import TaskItem

__all__ = ["CachedAnswers", "read_answers", "write_answers"]

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class CachedAnswers:
    """Answers (in item order) and each one's self-consistency samples (None: not drawn)."""

    answers: tuple[GeneratedAnswer, ...]
    samples: tuple[tuple[str, ...], ...] | None


def write_answers(
    path: Path,
    header: Mapping[str, Any],
    answers: Sequence[GeneratedAnswer],
    samples: Sequence[Sequence[str]] | None,
) -> None:
    """Write ``answers`` (and samples) atomically to ``path`` under ``header``."""
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"format": _FORMAT, **header}, sort_keys=True) + "\n")
        for index, answer in enumerate(answers):
            row = {
                "id": answer.item.id,
                "completion": answer.completion,
                "correct": answer.correct,
                "finish_reason": answer.finish_reason,
                "tokens": [
                    [t.text, t.token_id, t.token, t.logprob, [list(p) for p in t.top_logprobs]]
                    for t in answer.tokens
                ],
                "samples": None if samples is None else list(samples[index]),
            }
            handle.write(json.dumps(row) + "\n")
    os.replace(tmp, path)


def read_answers(path: Path, header: Mapping[str, Any], items: Sequence[TaskItem]) -> CachedAnswers:
    """Read answers for ``items`` written under the same ``header``; errors name the mismatch."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise GuardrailConfigError(f"{path}: empty answers file")
    try:
        stored = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise GuardrailConfigError(f"{path}:1: not a JSON header: {exc}") from None
    if not isinstance(stored, dict) or stored.get("format") != _FORMAT:
        raise GuardrailConfigError(f"{path}:1: not an answers file of format {_FORMAT}")
    for key, value in header.items():
        if stored.get(key) != value:
            raise GuardrailConfigError(
                f"{path}: written with {key}={stored.get(key)!r}, this run has {value!r}; "
                "use another --answers file"
            )
    rows = lines[1:]
    if len(rows) != len(items):
        raise GuardrailConfigError(
            f"{path}: holds {len(rows)} answers, this run asks for {len(items)} items"
        )
    answers, samples = [], []
    for number, (line, item) in enumerate(zip(rows, items, strict=True), start=2):
        try:
            row = json.loads(line)
            if row["id"] != item.id:
                raise GuardrailConfigError(
                    f"{path}:{number}: answer to item {row['id']!r}, expected {item.id!r}"
                )
            tokens = tuple(
                TokenStep(
                    text=str(text),
                    token_id=int(token_id),
                    token=str(token),
                    logprob=float(logprob),
                    top_logprobs=tuple((str(t), float(lp)) for t, lp in top),
                )
                for text, token_id, token, logprob, top in row["tokens"]
            )
            answers.append(
                GeneratedAnswer(
                    item=item,
                    completion=str(row["completion"]),
                    tokens=tokens,
                    correct=bool(row["correct"]),
                    finish_reason=row["finish_reason"],
                )
            )
            samples.append(None if row["samples"] is None else tuple(map(str, row["samples"])))
        except GuardrailConfigError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise GuardrailConfigError(f"{path}:{number}: malformed answer: {exc!r}") from None
    drawn = [s for s in samples if s is not None]
    if drawn and len(drawn) != len(samples):
        raise GuardrailConfigError(f"{path}: some answers have samples and some do not")
    return CachedAnswers(tuple(answers), tuple(drawn) if drawn else None)
