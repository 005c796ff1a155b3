"""Algorithm 1 of FineCE: Monte Carlo confidence labels for questions, partial and full answers.

For each question ``x`` (FINECE.md, "Training labels by Monte Carlo sampling"):

1. sample ``k`` answers; label ``(x, fraction correct)`` (question level);
2. cut each answer at a random paragraph end (seeded per question) to get partial answers;
3. cluster the partial answers once (TF-IDF, cosine, average linkage, distance threshold) and
   keep each cluster's medoid as its representative (at most ``max_clusters``, largest first);
4. for each representative ``c``: sample ``k`` completions of ``x + c``; label
   ``(x + c, fraction correct)`` (process level, ``level`` 1); cut those completions further,
   cluster them and continue from the medoid of the largest cluster, for ``levels`` levels in all;
5. label every complete answer ``x + A`` with 1.0 or 0.0 (outcome level), both the first ``k``
   and those completed from the representatives.

That is ``k * (1 + m * levels)`` generations per question for ``m`` clusters. Questions are built
``batch_questions`` at a time, each stage of all of them in one generator call, so a batched
generator sees many rows at once. A question's labels and completion marker are committed
together (see :mod:`guardrail.lab.data.store`), so a killed build loses at most the batch in
progress.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from guardrail.errors import GuardrailConfigError
from guardrail.lab.data.clustering import cluster_texts, paragraph_cuts, truncate_at_paragraph
from guardrail.lab.data.generator import Completion, Generator, Prompt
from guardrail.lab.data.store import LabelStore
from guardrail.lab.tasks.base import Task, TaskItem

__all__ = ["BuildConfig", "BuildReport", "build"]


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Settings of a build; all but ``batch_questions`` must match when a build resumes."""

    k: int = 8
    levels: int = 1
    cluster_threshold: float = 0.7
    max_clusters: int | None = None
    temperature: float = 0.7
    max_new_tokens: int = 160
    seed: int = 0
    batch_questions: int = 8

    def __post_init__(self) -> None:
        problems = []
        if self.k < 1:
            problems.append(f"k must be >= 1, got {self.k}")
        if self.levels < 0:
            problems.append(f"levels must be >= 0, got {self.levels}")
        if self.cluster_threshold < 0:
            problems.append(f"cluster_threshold must be >= 0, got {self.cluster_threshold}")
        if self.max_clusters is not None and self.max_clusters < 1:
            problems.append(f"max_clusters must be >= 1, got {self.max_clusters}")
        if self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.batch_questions < 1:
            problems.append(f"batch_questions must be >= 1, got {self.batch_questions}")
        if problems:
            raise GuardrailConfigError("; ".join(problems))

    def resume_key(self) -> dict[str, Any]:
        """The settings that define the labels (everything but batching)."""
        settings = asdict(self)
        settings.pop("batch_questions")
        return settings


@dataclass(slots=True)
class BuildReport:
    """What one call of :func:`build` did; ``tokens / generation_seconds`` is throughput."""

    built: int = 0
    skipped: int = 0
    labels: int = 0
    generations: int = 0
    tokens: int = 0
    generation_seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        """Generated tokens per second of generator time (0 when nothing was generated)."""
        return self.tokens / self.generation_seconds if self.generation_seconds > 0 else 0.0


@dataclass(slots=True)
class _Chain:
    """A partial answer to label, and how deep it is."""

    prefix: str
    level: int


@dataclass(slots=True)
class _Question:
    item: TaskItem
    rng: random.Random
    labels: list[dict[str, Any]] = field(default_factory=list)
    chains: list[_Chain] = field(default_factory=list)
    fraction: float = 0.0
    clusters: int = 0
    tokens: int = 0


class _Builder:
    def __init__(self, task: Task, generator: Generator, config: BuildConfig) -> None:
        self.task = task
        self.generator = generator
        self.config = config
        self.report = BuildReport()

    def run_batch(self, items: Sequence[TaskItem]) -> list[_Question]:
        questions = [
            _Question(item, random.Random(_seed(self.config.seed, "cut", item.id)))
            for item in items
        ]
        answers = self._sample(questions, [""] * len(questions), "answers")
        for question, completions in zip(questions, answers, strict=True):
            self._first_stage(question, completions)
        for level in range(1, self.config.levels + 1):
            chains = [(q, c) for q in questions for c in q.chains if c.level == level]
            if not chains:
                break
            results = self._sample(
                [q for q, _ in chains], [c.prefix for _, c in chains], f"level{level}"
            )
            for (question, chain), completions in zip(chains, results, strict=True):
                self._extend(question, chain, completions)
        return questions

    def _first_stage(self, question: _Question, completions: list[Completion]) -> None:
        correct, outcomes = self._outcomes(question, "", completions, level=0)
        question.fraction = sum(correct) / len(correct)
        question.labels.append(self._label(question, "question", "", correct, level=0))
        question.labels.extend(outcomes)
        partials = [truncate_at_paragraph(c.text, question.rng) for c in completions]
        kept = [p for p in partials if p is not None]
        clusters = cluster_texts(kept, self.config.cluster_threshold)[: self.config.max_clusters]
        question.clusters = len(clusters)
        question.chains = [_Chain(kept[c.representative], 1) for c in clusters]

    def _extend(self, question: _Question, chain: _Chain, completions: list[Completion]) -> None:
        correct, outcomes = self._outcomes(question, chain.prefix, completions, level=chain.level)
        question.labels.append(
            self._label(question, "process", chain.prefix, correct, level=chain.level)
        )
        question.labels.extend(outcomes)
        if chain.level >= self.config.levels:
            return
        partials = []
        for completion in completions:
            cuts = paragraph_cuts(completion.text)
            if cuts:
                partials.append(chain.prefix + completion.text[: question.rng.choice(cuts)])
        clusters = cluster_texts(partials, self.config.cluster_threshold)
        if clusters:
            question.chains.append(_Chain(partials[clusters[0].representative], chain.level + 1))

    def _outcomes(
        self, question: _Question, prefix: str, completions: list[Completion], *, level: int
    ) -> tuple[list[bool], list[dict[str, Any]]]:
        """Check each complete answer ``prefix + completion``; its outcome label."""
        correct, records = [], []
        for completion in completions:
            answer = prefix + completion.text
            ok = self.task.check(answer, question.item.reference)
            correct.append(ok)
            record = self._label(question, "outcome", answer, [ok], level=level)
            record["finished"] = completion.finish_reason == "stop"
            records.append(record)
        return correct, records

    def _label(
        self, question: _Question, kind: str, prefix: str, correct: list[bool], *, level: int
    ) -> dict[str, Any]:
        item = question.item
        reference = item.reference if isinstance(item.reference, str) else list(item.reference)
        return {
            "text_kind": kind,
            "question": item.question,
            "prefix": prefix,
            "label": sum(correct) / len(correct),
            "n": len(correct),
            "correct": sum(correct),
            "level": level,
            "reference": reference,
        }

    def _sample(
        self, questions: list[_Question], prefixes: list[str], stage: str
    ) -> list[list[Completion]]:
        prompts = [
            Prompt(tuple(self.task.prompt(q.item.question)), prefix)
            for q, prefix in zip(questions, prefixes, strict=True)
        ]
        seed = _seed(self.config.seed, stage, *(q.item.id for q in questions), *prefixes)
        started = time.perf_counter()
        results = self.generator.sample(
            prompts,
            self.config.k,
            temperature=self.config.temperature,
            max_new_tokens=self.config.max_new_tokens,
            seed=seed,
            stop=self.task.stop,
        )
        self.report.generation_seconds += time.perf_counter() - started
        for question, completions in zip(questions, results, strict=True):
            if len(completions) != self.config.k:
                raise GuardrailConfigError(
                    f"generator {self.generator.name} returned {len(completions)} completions, "
                    f"expected {self.config.k}"
                )
            tokens = sum(c.tokens for c in completions)
            question.tokens += tokens
            self.report.tokens += tokens
            self.report.generations += len(completions)
        return results


def build(
    task: Task,
    generator: Generator,
    items: Iterable[TaskItem],
    store: LabelStore,
    config: BuildConfig,
    *,
    progress: bool = True,
    on_question: Callable[[str], None] | None = None,
) -> BuildReport:
    """Label every item not yet in ``store`` (Algorithm 1); return what this call did.

    ``store`` must be open. ``on_question`` is called with each committed question id.
    """
    builder = _Builder(task, generator, config)
    todo = []
    for item in items:
        if store.is_done(item.id):
            builder.report.skipped += 1
        else:
            todo.append(item)
    bar = _progress(len(todo), progress)
    try:
        for start in range(0, len(todo), config.batch_questions):
            batch = todo[start : start + config.batch_questions]
            for question in builder.run_batch(batch):
                store.commit(
                    question.item.id,
                    question.labels,
                    fraction_correct=question.fraction,
                    clusters=question.clusters,
                    tokens=question.tokens,
                    metadata=dict(question.item.metadata),
                )
                builder.report.built += 1
                builder.report.labels += len(question.labels)
                if on_question is not None:
                    on_question(question.item.id)
            if bar is not None:
                bar.update(len(batch))
                bar.set_postfix(tok_s=f"{builder.report.tokens_per_second:.1f}")
    finally:
        if bar is not None:
            bar.close()
    return builder.report


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="q", desc="questions", file=sys.stderr, dynamic_ncols=True)


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:7], "big")
