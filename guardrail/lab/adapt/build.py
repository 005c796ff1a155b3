"""The model-running half of ``guardrail adapt``: labels, test answers and features.

* :func:`build_labels`: Monte Carlo labels of the fit and dev questions
  (:func:`guardrail.lab.data.build`, resumable store), a chunk of questions at a time so that a
  deadline stops it cleanly between chunks, with whatever was built kept;
* :func:`build_test_answers`: the generator's greedy answer to each test question and ``k``
  sampled answers (the agreement feature), graded by the task, cached as JSONL (resumable);
* :func:`featurize`: every row's features (:mod:`.rows`), each distinct text scored once and
  cached, so a re-run computes only what is new.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from guardrail.entropy import TokenLogprobs
from guardrail.lab.adapt.rows import Row
from guardrail.lab.data import BuildConfig, LabelStore, build, read_records
from guardrail.lab.data.generator import Generator, Prompt
from guardrail.lab.evaluation.baselines import self_consistency
from guardrail.lab.tasks.base import Task, TaskItem
from guardrail.scorers.base import Scorer
from guardrail.token_signals import DEFAULT_WINDOW, SIGNAL_NAMES, signal_confidence

__all__ = [
    "AdaptModels",
    "LabelProgress",
    "LogprobSource",
    "build_labels",
    "build_test_answers",
    "featurize",
    "label_rows",
    "test_rows",
]

Messages = Sequence[dict[str, str]]


class LogprobSource(Protocol):
    """A generator that gives the logprobs of an answer's tokens after a prompt (a forward pass)."""

    def token_logprobs(self, messages: Messages, answer: str) -> Sequence[TokenLogprobs]:
        """The answer's tokens with their logprobs and top alternatives."""
        ...


@dataclass(frozen=True, slots=True)
class AdaptModels:
    """What adapt runs: the generator that samples, the same generator's logprobs, FineCE."""

    sampler: Generator
    logprobs: LogprobSource
    finece: Scorer


@dataclass(slots=True)
class LabelProgress:
    """How far the label build got: questions done of those asked, and whether time ran out."""

    done: int = 0
    total: int = 0
    stopped_by_budget: bool = False
    seconds: float = 0.0


def _say(message: str) -> None:
    print(f"[adapt] {message}", file=sys.stderr, flush=True)


def build_labels(
    task: Task,
    items: Sequence[TaskItem],
    sampler: Generator,
    path: Path,
    settings: dict[str, Any],
    config: BuildConfig,
    *,
    deadline: float | None = None,
    progress: bool = True,
) -> LabelProgress:
    """Label ``items`` into the store at ``path`` in chunks; stop between chunks at ``deadline``.

    ``deadline`` is a :func:`time.monotonic` value. Already labelled questions are skipped.
    """
    report = LabelProgress(total=len(items))
    start = time.monotonic()
    chunk = max(1, config.batch_questions)
    with LabelStore(path, settings) as store:
        report.done = sum(store.is_done(item.id) for item in items)
        todo = [item for item in items if not store.is_done(item.id)]
        for offset in range(0, len(todo), chunk):
            if deadline is not None and time.monotonic() >= deadline:
                report.stopped_by_budget = True
                break
            part = todo[offset : offset + chunk]
            build(task, sampler, part, store, config, progress=False)
            report.done += len(part)
            if progress:
                elapsed = time.monotonic() - start
                rate = (offset + len(part)) / elapsed if elapsed > 0 else 0.0
                left = (len(todo) - offset - len(part)) / rate if rate > 0 else 0.0
                _say(
                    f"labels {report.done}/{report.total} questions, {elapsed:.0f} s, "
                    f"ETA {left:.0f} s"
                )
    report.seconds = time.monotonic() - start
    return report


def label_rows(path: Path, parts: dict[str, str]) -> list[Row]:
    """The store's labels as rows; ``parts`` maps question text to ``fit`` or ``dev`` (group)."""
    rows = []
    for record in read_records(path):
        if record.get("type") != "label" or record.get("question") not in parts:
            continue
        kind = record.get("text_kind")
        if kind not in ("question", "process", "outcome"):
            continue
        question = str(record["question"])
        target = float(bool(record.get("correct"))) if kind == "outcome" else float(record["label"])
        answer = str(record.get("prefix") or "")
        rows.append(Row(question, kind, target, {}, parts[question], answer))
    return rows


def build_test_answers(
    task: Task,
    items: Sequence[TaskItem],
    sampler: Generator,
    path: Path,
    *,
    k: int,
    max_new_tokens: int,
    seed: int,
    deadline: float | None = None,
    batch: int = 8,
) -> list[dict[str, Any]]:
    """Greedy answer and ``k`` samples per test question, graded; cached in ``path`` (JSONL).

    Questions already in the cache are not asked again; a ``deadline`` stops between batches
    (the test split then holds only the answered questions, and the card says so).
    """
    done: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                done[entry["id"]] = entry
    todo = [item for item in items if item.id not in done]
    with path.open("a", encoding="utf-8") as out:
        for offset in range(0, len(todo), batch):
            if deadline is not None and time.monotonic() >= deadline:
                break
            part = todo[offset : offset + batch]
            prompts = [Prompt(tuple(task.prompt(item.question))) for item in part]
            greedy = sampler.sample(
                prompts, 1, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed
            )
            samples = (
                sampler.sample(
                    prompts, k, temperature=1.0, max_new_tokens=max_new_tokens, seed=seed
                )
                if k > 0
                else [[] for _ in part]
            )
            for item, first, own in zip(part, greedy, samples, strict=True):
                text = first[0].text
                entry = {
                    "id": item.id,
                    "question": item.question,
                    "completion": text,
                    "correct": bool(task.check(text, item.reference)),
                    "samples": [c.text for c in own],
                }
                out.write(json.dumps(entry) + "\n")
                done[item.id] = entry
            out.flush()
            _say(f"test answers {len(done)}/{len(items)}")
    return [done[item.id] for item in items if item.id in done]


def test_rows(task: Task, answers: Iterable[dict[str, Any]]) -> list[Row]:
    """The test answers as outcome rows, each with its agreement among the samples."""
    rows = []
    for entry in answers:
        row = Row(
            entry["question"], "outcome", float(entry["correct"]), {}, "test", entry["completion"]
        )
        agreement = self_consistency(task, entry["completion"], entry["samples"])
        if agreement is not None:
            row = row.with_features({"agreement": agreement})
        rows.append(row)
    return rows


def _agreement(task: Task, rows: Sequence[Row], k: int) -> list[float | None]:
    """Per row: an outcome's agreement with up to ``k`` other sampled answers (else ``None``)."""
    by_question: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        if row.stage == "outcome":
            by_question[row.question].append(index)
    values: list[float | None] = [None] * len(rows)
    for indices in by_question.values():
        for index in indices:
            others = [rows[j].answer for j in indices if j != index][:k]
            values[index] = self_consistency(task, rows[index].answer, others)
    return values


def _text_features(
    models: AdaptModels, task: Task, question: str, answer: str, estimate: float, window: int
) -> dict[str, float]:
    """FineCE's estimate and, for an answer, the raw logprob signals of its tokens."""
    features = {"finece": float(estimate)}
    if not answer:
        return features
    tokens = models.logprobs.token_logprobs(task.prompt(question), answer)
    for name in SIGNAL_NAMES:
        value = signal_confidence(name, tokens, window)
        if value is not None:
            features[name] = value
    first = next((t.logprob for t in tokens if t.logprob is not None), None)
    if first is not None:
        features["first_token"] = math.exp(first)
    return features


def _read_cache(cache: Path) -> dict[str, dict[str, float]]:
    known: dict[str, dict[str, float]] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                known[entry["key"]] = entry["features"]
    return known


def featurize(
    rows: Sequence[Row],
    models: AdaptModels,
    task: Task,
    cache: Path,
    *,
    agreement_k: int = 4,
    window: int = DEFAULT_WINDOW,
    batch: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Row]:
    """Every row with its features (module :mod:`.rows`); texts already in ``cache`` are reused.

    The FineCE estimates are ``models.finece.score_batch`` outputs (its pooled map applied);
    the logprob signals are raw. Fit and dev outcome rows get their agreement with up to
    ``agreement_k`` other sampled answers of the same question (test rows carry theirs).
    """
    known = _read_cache(cache)
    wanted = {(r.question, "") for r in rows} | {(r.question, r.answer) for r in rows}
    todo = sorted(pair for pair in wanted if _key(*pair) not in known)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("a", encoding="utf-8") as out:
        for offset in range(0, len(todo), batch):
            part = todo[offset : offset + batch]
            estimates = models.finece.score_batch(part)
            for (question, answer), estimate in zip(part, estimates, strict=True):
                key = _key(question, answer)
                known[key] = _text_features(models, task, question, answer, estimate, window)
                out.write(json.dumps({"key": key, "features": known[key]}) + "\n")
            out.flush()
            if on_progress is not None:
                on_progress(min(offset + batch, len(todo)), len(todo))
    labelled = [r for r in rows if r.group != "test"]
    agreement = iter(_agreement(task, labelled, agreement_k))
    result = []
    for row in rows:
        own = known[_key(row.question, row.answer)]
        features = {k: v for k, v in own.items() if k != "finece"}
        features["finece_question"] = known[_key(row.question, "")]["finece"]
        features["finece_outcome"] = own["finece"]
        if row.group != "test":
            value = next(agreement)
            if value is not None:
                features["agreement"] = value
        result.append(row.with_features(features))
    return result


def _key(question: str, answer: str) -> str:
    return json.dumps([question, answer])
