"""Graded answers for calibrating a ``logprob:`` scorer, and the fit of its Platt map.

Two file formats are read (JSONL, one object per line):

* a label file written by ``guardrail data build`` (its first line is ``{"type": "meta", ...}``):
  every ``outcome`` label is one sampled answer (``prefix``) graded right or wrong
  (``correct``); the model is the build's ``generator``, and the logprobs are recomputed by
  running that (local) generator over the task's prompt and the answer;
* any graded file: ``{"question": ..., "answer": ..., "correct": true | false, "logprobs":
  [...]}`` with the answer's OpenAI-shaped token logprobs as the provider returned them
  (``choice.logprobs`` or its ``content`` list); rows without ``logprobs`` are recomputed with
  a local generator (``--generator``), the question asked as one user message.

:func:`fit_logprob_calibration` computes the scorer's raw signal on every answer and fits the
Platt map of the model on the right/wrong outcomes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrail.calibration import fit_platt_soft
from guardrail.entropy import TokenLogprobs, parse_logprobs
from guardrail.errors import GuardrailConfigError
from guardrail.scorers.calibrations import ModelCalibration
from guardrail.scorers.logprob import LogprobScorer

__all__ = [
    "GradedAnswer",
    "GradedFile",
    "Recomputer",
    "auroc",
    "brier",
    "fit_logprob_calibration",
    "read_graded",
]

Recomputer = Callable[[Sequence[dict[str, str]], str], Sequence[TokenLogprobs]]
"""``(prompt messages, answer) -> the answer's tokens with logprobs`` (a forward pass)."""


@dataclass(frozen=True, slots=True)
class GradedAnswer:
    """One answer graded right or wrong, with its tokens' logprobs when the file has them.

    ``group`` is what it came from: a label file's task family, else the file's name.
    """

    question: str
    answer: str
    correct: bool
    messages: tuple[dict[str, str], ...]
    tokens: tuple[TokenLogprobs, ...] | None = None
    group: str = ""


@dataclass(frozen=True, slots=True)
class GradedFile:
    """The answers of a graded file, and the generator its build settings name (if any)."""

    answers: tuple[GradedAnswer, ...]
    generator: str | None = None
    task: str | None = None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise GuardrailConfigError(f"graded file not found: {path}")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GuardrailConfigError(f"{path}:{number}: not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise GuardrailConfigError(f"{path}:{number}: expected a JSON object")
            yield number, row


def read_graded(path: str | Path) -> GradedFile:
    """Read a label file of ``guardrail data build`` or a graded answers file (module doc)."""
    source = Path(path)
    rows = list(_rows(source))
    if rows and rows[0][1].get("type") == "meta":
        return _read_labels(source, rows)
    answers = []
    for number, row in rows:
        where = f"{source}:{number}"
        question, answer, correct = row.get("question"), row.get("answer"), row.get("correct")
        if not isinstance(question, str) or not isinstance(answer, str):
            raise GuardrailConfigError(f"{where}: needs string fields 'question' and 'answer'")
        if not isinstance(correct, bool):
            raise GuardrailConfigError(f"{where}: 'correct' must be true or false, got {correct!r}")
        tokens = None
        if row.get("logprobs") is not None:
            try:
                tokens = tuple(parse_logprobs(row["logprobs"]))
            except TypeError as exc:
                raise GuardrailConfigError(f"{where}: logprobs: {exc}") from None
        messages = ({"role": "user", "content": question},)
        answers.append(GradedAnswer(question, answer, correct, messages, tokens, source.name))
    return GradedFile(tuple(answers))


def _read_labels(source: Path, rows: list[tuple[int, dict[str, Any]]]) -> GradedFile:
    from guardrail.lab.data.store import read_records
    from guardrail.lab.tasks import TaskOptions, get_task

    config = rows[0][1].get("config")
    if not isinstance(config, dict) or not isinstance(config.get("task"), str):
        raise GuardrailConfigError(f"{source}:1: the meta line names no task")
    difficulty = config.get("difficulty")
    options = TaskOptions(
        data=config.get("data"),
        difficulties=tuple(difficulty) if isinstance(difficulty, list) else (1, 2),
        seed=int(config.get("task_seed", 0)),
    )
    task = get_task(config["task"], options)
    answers = []
    for record in read_records(source):
        if record.get("type") != "label" or record.get("text_kind") != "outcome":
            continue
        question, answer = record.get("question"), record.get("prefix")
        if not isinstance(question, str) or not isinstance(answer, str):
            continue
        correct = bool(record.get("correct"))
        messages = tuple(task.prompt(question))
        answers.append(GradedAnswer(question, answer, correct, messages, group=config["task"]))
    generator = config.get("generator")
    return GradedFile(
        tuple(answers), generator if isinstance(generator, str) else None, config["task"]
    )


def brier(scores: Sequence[float], outcomes: Sequence[bool]) -> float:
    """Mean squared error of the scores against the right (1) / wrong (0) outcomes."""
    return math.fsum((s - float(y)) ** 2 for s, y in zip(scores, outcomes, strict=True)) / len(
        scores
    )


def auroc(scores: Sequence[float], outcomes: Sequence[bool]) -> float | None:
    """Share of right/wrong pairs ranked right above wrong (ties half); ``None`` without both."""
    positives = [s for s, y in zip(scores, outcomes, strict=True) if y]
    negatives = [s for s, y in zip(scores, outcomes, strict=True) if not y]
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def fit_logprob_calibration(
    scorer: LogprobScorer,
    model: str,
    graded: GradedFile,
    *,
    recompute: Recomputer | None = None,
    source: str = "",
) -> ModelCalibration:
    """Fit ``model``'s Platt map for ``scorer`` on the graded answers.

    Answers without logprobs are recomputed with ``recompute``; without it they are an error
    naming how many lack them. Answers with no tokens at all are skipped (and counted).
    """
    scores: list[float] = []
    outcomes: list[bool] = []
    skipped = recomputed = 0
    for answer in graded.answers:
        tokens = answer.tokens
        if tokens is None:
            if recompute is None:
                missing = sum(a.tokens is None for a in graded.answers)
                raise GuardrailConfigError(
                    f"{missing} graded answer(s) have no logprobs: add them (the provider's "
                    "logprobs) or name a local generator to recompute them (--generator)"
                )
            tokens = tuple(recompute(answer.messages, answer.answer))
            recomputed += 1
        value = scorer.raw(tokens)
        if value is None:
            skipped += 1
            continue
        scores.append(value)
        outcomes.append(answer.correct)
    if len(set(outcomes)) < 2:
        raise GuardrailConfigError(
            f"calibration needs right and wrong answers; got {outcomes.count(True)} right and "
            f"{outcomes.count(False)} wrong of {len(outcomes)} scored"
        )
    platt = fit_platt_soft(scores, [float(y) for y in outcomes])
    calibrated = platt.apply_list(scores)
    fit = {
        "answers": len(scores),
        "correct": outcomes.count(True),
        "base_rate": outcomes.count(True) / len(outcomes),
        "skipped_empty": skipped,
        "recomputed": recomputed,
        "brier_raw": brier(scores, outcomes),
        "brier_calibrated": brier(calibrated, outcomes),
        "auroc": auroc(scores, outcomes),
        "in_sample": True,  # figures on the answers the map was fitted on
    }
    return ModelCalibration(
        scorer=scorer.name, model=model, window=scorer.window, platt=platt, fit=fit, source=source
    )
