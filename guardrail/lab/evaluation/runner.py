"""End-to-end evaluation: generate answers, score them every way, build the report.

:func:`evaluate` runs, for each task item:

1. the answer, generated once with per-token logprobs (:mod:`guardrail.lab.evaluation.answers`);
2. FineCE at the question, every paragraph end and the outcome, through the monitor
   (:func:`~guardrail.lab.evaluation.positions.score_positions`);
3. each checkpoint strategy (paragraph-end, periodic, entropy) replayed with the product's
   settings (:func:`~guardrail.lab.evaluation.positions.replay_strategy`);
4. every baseline (:mod:`guardrail.lab.evaluation.baselines`); self-consistency and BCI widths
   above 0 need ``sampler`` (a batched :class:`~guardrail.lab.data.generator.Generator`) and are
   reported as skipped without one;

then splits the answers by question into dev and test (seeded) and assembles the report
(:func:`guardrail.lab.evaluation.analysis.build_report`). Every number in the report is computed
from these answers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardrail.calibration import PlattMap
from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.ablation import Futures, sample_futures
from guardrail.lab.evaluation.analysis import build_report
from guardrail.lab.evaluation.answer_cache import read_answers, write_answers
from guardrail.lab.evaluation.answers import (
    GeneratedAnswer,
    generate_answer,
    line_future_sampler,
    sample_answers,
)
from guardrail.lab.evaluation.baselines import (
    p_true,
    self_consistency,
    token_baselines,
    verbalized_confidence,
)
from guardrail.lab.evaluation.positions import (
    PositionTrace,
    StrategyTrace,
    replay_strategy,
    score_positions,
    strategy_settings,
)
from guardrail.lab.evaluation.records import AnswerRecord, EvalConfig, Split
from guardrail.lab.evaluation.within import AnswerGroup
from guardrail.lab.tasks import Task, TaskItem
from guardrail.scorers.base import Scorer, StageCalibratedScorer

if TYPE_CHECKING:
    from guardrail.generation import LocalGenerator
    from guardrail.lab.data.generator import Generator

__all__ = ["AnswerRecord", "EvalConfig", "Evaluation", "evaluate", "split_by_question"]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The records of a run and the report built from them (see :mod:`.analysis`)."""

    records: tuple[AnswerRecord, ...]
    report: dict[str, Any]


def split_by_question(ids: Sequence[str], dev_fraction: float, seed: int) -> dict[str, Split]:
    """Seeded dev/test assignment of question ids (all answers to a question share a split).

    ``round(dev_fraction * n)`` questions go to dev, at least one to each split when ``n >= 2``.
    """
    unique = sorted(set(ids))
    random.Random(seed).shuffle(unique)
    n_dev = round(dev_fraction * len(unique))
    if len(unique) >= 2:
        n_dev = min(max(n_dev, 1), len(unique) - 1)
    return {qid: ("dev" if i < n_dev else "test") for i, qid in enumerate(unique)}


def _model_baselines(
    generator: LocalGenerator, answer: GeneratedAnswer, config: EvalConfig
) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    if config.p_true:
        result["p_true"] = p_true(
            generator.model,
            generator.tokenizer,
            answer.question,
            answer.completion,
            prompt_format=generator.prompt_format,
        )
    if config.verbalized:
        result["verbalized"] = verbalized_confidence(
            generator,
            answer.question,
            answer.completion,
            config.verbalized_max_new_tokens,
            prompt_format=generator.prompt_format,
        )
    return result


def _score_answer(
    scorer: Scorer,
    generator: LocalGenerator,
    task: Task,
    answer: GeneratedAnswer,
    samples: Sequence[str] | None,
    config: EvalConfig,
) -> tuple[PositionTrace, dict[str, StrategyTrace], dict[str, float | None]]:
    positions = score_positions(scorer, answer.question, answer.tokens)
    strategies = {
        name: replay_strategy(
            scorer,
            answer.question,
            answer.tokens,
            strategy_settings(
                name,
                periodic_every=config.periodic_every,
                entropy_threshold=config.entropy_threshold,
            ),
        )
        for name in config.strategies
    }
    baselines: dict[str, float | None] = dict(token_baselines(answer.tokens, config.window))
    baselines.update(_model_baselines(generator, answer, config))
    if samples is not None:
        baselines["self_consistency"] = self_consistency(task, answer.completion, samples)
    return positions, strategies, baselines


def _state_prefixes(answer: GeneratedAnswer, trace: PositionTrace) -> list[str]:
    """Answer text at the question and at each process estimate (token counts of the trace)."""
    visible = [t.text for t in answer.tokens if t.text]
    return ["", *("".join(visible[:index]) for index in trace.process_tokens)]


def _collect_futures(
    scorer: Scorer,
    task: Task,
    records: Sequence[AnswerRecord],
    sampler: Generator | None,
    config: EvalConfig,
) -> dict[int, list[Futures]]:
    if sampler is None:
        return {}
    futures: dict[int, list[Futures]] = {}
    for width in (w for w in config.bci.widths if w > 0):
        future_sampler = line_future_sampler(
            sampler,
            task,
            temperature=config.sample_temperature,
            max_new_tokens=config.future_max_new_tokens,
            seed=config.seed,
        )
        futures[width] = [
            sample_futures(
                scorer,
                r.answer.question,
                _state_prefixes(r.answer, r.positions),
                future_sampler,
                width,
            )
            for r in records
        ]
    return futures


def evaluate(
    scorer: Scorer,
    generator: LocalGenerator,
    task: Task,
    items: Iterable[TaskItem],
    config: EvalConfig | None = None,
    *,
    sampler: Generator | None = None,
    progress: Progress | None = None,
    meta: Mapping[str, Any] | None = None,
    answers_file: Path | None = None,
) -> Evaluation:
    """Generate, score and analyse the answers to ``items`` (see the module docstring).

    ``answers_file`` (:mod:`guardrail.lab.evaluation.answer_cache`): read the answers and samples
    from it when it exists (written by an earlier run with the same generator, task, items and
    settings), else generate them and write it.
    """
    config = config or EvalConfig()
    say = progress or (lambda _message: None)
    items = list(items)
    if not items:
        raise GuardrailConfigError("evaluation needs at least one item")
    started = time.perf_counter()
    generator_name = getattr(generator, "name", type(generator).__name__)
    header = answers_header(generator, task, config, sampled=sampler is not None)
    samples: Sequence[Sequence[str]] | None
    if answers_file is not None and answers_file.exists():
        cached = read_answers(answers_file, header, items)
        say(f"read {len(cached.answers)} answers from {answers_file}")
        answers, samples = list(cached.answers), cached.samples
    else:
        answers, samples = _generate(generator, task, items, config, sampler, say)
        if answers_file is not None:
            write_answers(answers_file, header, answers, samples)
            say(f"wrote the answers to {answers_file}")
    splits = split_by_question([a.item.id for a in answers], config.dev_fraction, config.seed)
    records = []
    for index, answer in enumerate(answers):
        own = None if samples is None else samples[index]
        positions, strategies, baselines = _score_answer(
            scorer, generator, task, answer, own, config
        )
        records.append(
            AnswerRecord(answer, positions, strategies, baselines, splits[answer.item.id])
        )
        say(f"scored {index + 1}/{len(answers)}")
    futures = _collect_futures(scorer, task, records, sampler, config)
    groups = None if samples is None else _answer_groups(scorer, task, answers, samples)
    if groups is not None:
        say("scored the sampled answers (within-question ranking)")
    skipped = _skipped_methods(sampler, config)
    info = {
        "scorer": scorer.name,
        "generator": generator_name,
        "task": task.name,
        "sampler": None if sampler is None else sampler.name,
        "seconds": time.perf_counter() - started,
        "calibration": _calibration_of(scorer),
        **(meta or {}),
    }
    report = build_report(records, futures, config, info, skipped, groups)
    return Evaluation(tuple(records), report)


def answers_header(
    generator: LocalGenerator, task: Task, config: EvalConfig, *, sampled: bool
) -> dict[str, Any]:
    """The settings an answers file (``--answers``) is written under and checked against."""
    return {
        "generator": getattr(generator, "name", type(generator).__name__),
        "task": task.name,
        "generation": asdict(config.generation),
        "self_consistency": config.self_consistency if sampled else 0,
        "sample_temperature": config.sample_temperature,
        "seed": config.seed,
    }


def _generate(
    generator: LocalGenerator,
    task: Task,
    items: Sequence[TaskItem],
    config: EvalConfig,
    sampler: Generator | None,
    say: Progress,
) -> tuple[list[GeneratedAnswer], Sequence[Sequence[str]] | None]:
    """The greedy answers to ``items`` and, with a sampler, each one's samples."""
    answers = []
    for number, item in enumerate(items, start=1):
        answers.append(generate_answer(generator, task, item, config.generation))
        say(f"generated {number}/{len(items)}")
    samples: Sequence[Sequence[str]] | None = None
    if sampler is not None and config.self_consistency > 0:
        samples = sample_answers(
            sampler,
            task,
            [a.question for a in answers],
            config.self_consistency,
            temperature=config.sample_temperature,
            max_new_tokens=config.generation.max_new_tokens,
            seed=config.seed,
        )
        say(f"sampled {config.self_consistency} answers per question")
    return answers, samples


def _answer_groups(
    scorer: Scorer,
    task: Task,
    answers: Sequence[GeneratedAnswer],
    samples: Sequence[Sequence[str]],
) -> list[AnswerGroup]:
    """Each question's greedy and sampled answers, scored at the outcome and graded."""
    pairs: list[tuple[str, str]] = []
    graded: list[list[bool]] = []
    for answer, own in zip(answers, samples, strict=True):
        texts = [answer.completion, *own]
        pairs.extend((answer.question, text) for text in texts)
        graded.append([answer.correct, *(task.check(t, answer.item.reference) for t in own)])
    scores = scorer.score_batch(pairs) if pairs else []
    if isinstance(scorer, StageCalibratedScorer):
        scores = [scorer.for_stage(value, "outcome") for value in scores]
    groups, start = [], 0
    for answer, correct in zip(answers, graded, strict=True):
        chunk = scores[start : start + len(correct)]
        start += len(correct)
        groups.append(AnswerGroup(answer.item.id, tuple(chunk), tuple(correct)))
    return groups


def _calibration_of(scorer: Scorer) -> dict[str, Any] | None:
    """The scorer's own calibration map (applied to every FineCE number), if it carries one."""
    mapping = getattr(scorer, "calibration", None)
    return mapping.to_dict() if isinstance(mapping, PlattMap) else None


def _skipped_methods(sampler: Generator | None, config: EvalConfig) -> dict[str, str]:
    skipped = {}
    if config.self_consistency == 0:
        skipped["self_consistency"] = "self_consistency samples set to 0"
    elif sampler is None:
        skipped["self_consistency"] = "no sampler given to draw self-consistency answers"
    if not config.p_true:
        skipped["p_true"] = "disabled in the settings"
    if not config.verbalized:
        skipped["verbalized"] = "disabled in the settings"
    return skipped
