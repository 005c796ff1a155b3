"""``guardrail adapt`` end to end: check the input, build, featurize, compare, write the folder.

Every check that needs no model runs first (:func:`prepare`): the task and its data, rows
without a checkable answer (``file:line``), too few questions to split (how many are needed),
a generator that cannot sample or give logprobs (:func:`check_generator`). Then, within
``budget_minutes`` (a clean stop between batches, keeping what was built): Monte Carlo labels of
the fit and dev questions, the test questions' answers, every row's features, and the
warm-start fine-tune if the time left allows it; then :func:`~guardrail.lab.adapt.compare` and
:func:`~guardrail.lab.adapt.output.write_adapt_dir`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError
from guardrail.lab.adapt.build import (
    AdaptModels,
    build_labels,
    build_test_answers,
    featurize,
    label_rows,
    test_rows,
)
from guardrail.lab.adapt.candidates import CANDIDATES
from guardrail.lab.adapt.compare import Comparison, compare
from guardrail.lab.adapt.finetune import FINETUNE_DIR, finetune, finetune_seconds
from guardrail.lab.adapt.logprobs import SharedPrefixLogprobs
from guardrail.lab.adapt.output import write_adapt_dir
from guardrail.lab.adapt.rows import Row
from guardrail.lab.adapt.settings import AdaptSettings
from guardrail.lab.adapt.split import Split, split_questions
from guardrail.lab.data import BuildConfig
from guardrail.lab.tasks import TaskOptions, get_task
from guardrail.lab.tasks.base import Task, TaskItem

__all__ = ["AdaptResult", "AdaptSettings", "Prepared", "adapt", "check_generator", "prepare"]

_ENDLESS = ("synthetic", "table-lookup", "unit-conversion")
LABEL_SHARE = 0.55
"""Share of the budget the fit/dev labels may take; the test answers get up to 0.7 in all."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """The checked input: task, items by part, the split, the data file and review labels."""

    task: Task
    items: dict[str, tuple[TaskItem, ...]]
    split: Split
    data: dict[str, Any]
    review: tuple[Row, ...] = ()
    review_note: str = ""


@dataclass(frozen=True, slots=True)
class AdaptResult:
    """What a run wrote and measured."""

    out: Path
    comparison: Comparison
    seconds: dict[str, float]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _say(message: str) -> None:
    print(f"[adapt] {message}", file=sys.stderr, flush=True)


def check_generator(ref: str) -> None:
    """An error, before any model loads, when ``ref`` cannot sample answers and give logprobs."""
    if ref.startswith(("logprob:", "hybrid:")):
        raise GuardrailConfigError(
            f"--generator {ref}: a scorer reference, not a generator that can sample answers"
        )
    if ref.startswith("litellm:"):
        raise GuardrailConfigError(
            f"--generator {ref}: adapt recomputes the logprobs of sampled answers by a forward "
            "pass, so the generator must be a local model (builtin:NAME or a model directory); "
            "for a provider's model, fit `guardrail calibrate` on a graded file with logprobs"
        )
    if ref.startswith("builtin:"):
        from guardrail.models.builtin import BUILTIN_MODELS

        name = ref.removeprefix("builtin:")
        if name not in BUILTIN_MODELS:
            valid = ", ".join(f"builtin:{n}" for n in sorted(BUILTIN_MODELS))
            raise GuardrailConfigError(
                f"--generator {ref}: not a built-in generator that can sample; valid: {valid}"
            )
        return
    path = Path(ref).expanduser()
    if (path / "finece.json").is_file() or (path / "adapt.json").is_file():
        raise GuardrailConfigError(
            f"--generator {ref}: a scorer folder, not a generator that can sample answers"
        )
    if path.exists() and not (path / "config.json").is_file() and path.suffix != ".gguf":
        raise GuardrailConfigError(
            f"--generator {ref}: no config.json there: not a model that can sample answers"
        )


def _items(settings: AdaptSettings) -> tuple[Task, list[TaskItem]]:
    task = get_task(settings.task, TaskOptions(data=settings.data))
    if settings.limit is None and settings.task in _ENDLESS and settings.data is None:
        raise GuardrailConfigError(f"the {settings.task} task is endless: give --limit N")
    items = list(itertools.islice(task.items(), settings.limit))
    if settings.data is not None:
        _check_references(Path(settings.data), items)
    return task, items


def _check_references(path: Path, items: Sequence[TaskItem]) -> None:
    """Every data row has a checkable answer; else an error naming ``file:line``."""
    numbers = [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip()
    ]
    bad = [
        f"{path}:{number}"
        for number, item in zip(numbers, items, strict=False)
        if not _checkable(item.reference)
    ]
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise GuardrailConfigError(
            f"row(s) without a checkable answer (an empty 'answer'): {', '.join(bad[:5])}{more}"
        )


def _checkable(reference: object) -> bool:
    if isinstance(reference, str):
        return bool(reference.strip())
    if isinstance(reference, list | tuple):
        return any(_checkable(r) for r in reference)
    return reference is not None


def _data_info(settings: AdaptSettings, items: Sequence[TaskItem]) -> dict[str, Any]:
    info: dict[str, Any] = {"task": settings.task, "questions": len(items), "path": settings.data}
    if settings.data is not None:
        info["sha256"] = hashlib.sha256(Path(settings.data).read_bytes()).hexdigest()
    return info


def _review_rows(settings: AdaptSettings) -> tuple[list[Row], str]:
    if settings.from_review is None:
        return [], ""
    from guardrail.lab.review_labels import labels_from_review

    labels = labels_from_review(settings.from_review, generator=settings.generator)
    rows = [
        Row(label.question, "outcome", float(label.correct), {}, "review", label.answer)
        for label in labels.labels
    ]
    return rows, labels.describe()


def prepare(settings: AdaptSettings) -> Prepared:
    """Every check that needs no model (module documentation); the split."""
    check_generator(settings.generator)
    task, items = _items(settings)
    review, note = _review_rows(settings)
    questions = [item.question for item in items] + [row.question for row in review]
    split = split_questions(questions, settings.seed)
    parts: dict[str, tuple[TaskItem, ...]] = {}
    for name in ("fit", "dev", "test"):
        members = set(getattr(split, name))
        parts[name] = tuple(item for item in items if item.question in members)
    return Prepared(task, parts, split, _data_info(settings, items), tuple(review), note)


def load_models(settings: AdaptSettings) -> AdaptModels:
    """The generator (sampling and logprobs) and the shipped FineCE scorer, loaded locally."""
    from guardrail.generation import LocalGenerator
    from guardrail.lab.data.local import LocalBatchGenerator
    from guardrail.scorers import create_scorer

    sampler = LocalBatchGenerator.from_ref(settings.generator, device=settings.device)
    logprobs = SharedPrefixLogprobs(
        LocalGenerator.from_ref(settings.generator, device=settings.device)
    )
    return AdaptModels(
        sampler, logprobs, create_scorer(settings.base_scorer, device=settings.device)
    )


def _interleave(first: Sequence[TaskItem], second: Sequence[TaskItem]) -> list[TaskItem]:
    """Fit and dev items alternating in proportion, so a stopped build leaves both parts."""
    out: list[TaskItem] = []
    ratio = len(first) / max(1, len(second))
    i = j = 0
    while i < len(first) or j < len(second):
        if j >= len(second) or (i < len(first) and i < ratio * (j + 1)):
            out.append(first[i])
            i += 1
        else:
            out.append(second[j])
            j += 1
    return out


def _settings_key(settings: AdaptSettings, config: BuildConfig) -> dict[str, Any]:
    return {
        "task": settings.task,
        "data": settings.data,
        "difficulty": None,
        "task_seed": 0,
        "generator": settings.generator,
        **config.resume_key(),
    }


def adapt(
    settings: AdaptSettings,
    models: AdaptModels | None = None,
    *,
    load: Callable[[AdaptSettings], AdaptModels] | None = None,
) -> AdaptResult:
    """Run ``guardrail adapt`` (module documentation).

    ``models`` are used as given; else ``load`` (default :func:`load_models`) loads them once
    the input is checked.
    """
    start = time.monotonic()
    budget = None if settings.budget_minutes is None else settings.budget_minutes * 60.0
    deadline = (lambda share: None) if budget is None else (lambda share: start + share * budget)
    prepared = prepare(settings)
    _say(prepared.split.describe() + " (test >= a quarter of the questions, held out)")
    if prepared.review_note:
        _say(prepared.review_note)
    models = models or (load or load_models)(settings)
    work = settings.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    config = BuildConfig(
        k=settings.k,
        levels=settings.levels,
        max_clusters=settings.max_clusters,
        temperature=settings.temperature,
        max_new_tokens=settings.max_new_tokens,
        seed=settings.seed,
    )
    seconds: dict[str, float] = {}
    notes: list[str] = []
    labels_path = work / "labels.jsonl"
    labelled = _interleave(prepared.items["fit"], prepared.items["dev"])
    progress = build_labels(
        prepared.task,
        labelled,
        models.sampler,
        labels_path,
        _settings_key(settings, config),
        config,
        deadline=deadline(LABEL_SHARE),
    )
    seconds["labels"] = progress.seconds
    if progress.stopped_by_budget:
        notes.append(
            f"budget: labels built for {progress.done} of {progress.total} fit/dev questions"
        )
    mark = time.monotonic()
    answers = build_test_answers(
        prepared.task,
        prepared.items["test"],
        models.sampler,
        work / "test-answers.jsonl",
        k=settings.agreement_k,
        max_new_tokens=settings.max_new_tokens,
        seed=settings.seed,
        deadline=deadline(0.7),
    )
    seconds["test_answers"] = time.monotonic() - mark
    if len(answers) < len(prepared.items["test"]):
        notes.append(
            f"budget: {len(answers)} of {len(prepared.items['test'])} test questions answered"
        )
    parts = {q: "fit" for q in prepared.split.fit} | {q: "dev" for q in prepared.split.dev}
    rows = label_rows(labels_path, parts) + test_rows(prepared.task, answers)
    rows += [
        Row(r.question, r.stage, r.target, r.features, _part(prepared.split, r.question), r.answer)
        for r in prepared.review
    ]
    mark = time.monotonic()
    rows = featurize(
        rows,
        models,
        prepared.task,
        work / "features-cache.jsonl",
        agreement_k=settings.agreement_k,
        on_progress=lambda done, total: _say(f"features {done}/{total} texts"),
    )
    seconds["features"] = time.monotonic() - mark
    rows, finetuned, why = _maybe_finetune(settings, prepared, rows, labels_path, start, budget)
    if why:
        notes.append(why)
    seconds["finetune"] = time.monotonic() - mark - seconds["features"]
    by_part = {name: [r for r in rows if r.group == name] for name in ("fit", "dev", "test")}
    _say(
        "rows: "
        + ", ".join(
            f"{name} {len(part)} ({sum(r.stage == 'outcome' for r in part)} answers)"
            for name, part in by_part.items()
        )
    )
    missing = [
        name for name in ("fit", "dev") if not any(r.stage == "outcome" for r in by_part[name])
    ]
    if missing:
        raise GuardrailRuntimeError(
            f"no fit or dev labels to compare candidates on (none in {' and '.join(missing)}): "
            f"labels were built for {progress.done} of {progress.total} questions; "
            "raise --budget-minutes (re-running the same command resumes the labels)"
        )
    comparison = compare(
        by_part["fit"],
        by_part["dev"],
        by_part["test"],
        specs=CANDIDATES,
        target_accuracy=settings.target_accuracy,
        n_bootstrap=settings.n_bootstrap,
        seed=settings.seed,
    )
    if finetuned is None:
        comparison.skipped["finetune"] = comparison.skipped["finetune-hybrid"] = why
    seconds["total"] = time.monotonic() - start
    info = {
        "task": settings.task,
        "data": prepared.data,
        "split": prepared.split.to_dict(),
        "labels": {**asdict(progress), "k": settings.k, "levels": settings.levels},
        "review": prepared.review_note or None,
        "base_scorer": settings.base_scorer,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "seconds": seconds,
        "notes": notes,
    }
    write_adapt_dir(
        settings.out,
        comparison,
        generator=settings.generator,
        base_scorer=settings.base_scorer,
        finetuned=FINETUNE_DIR if finetuned is not None else None,
        preset=settings.preset,
        info=info,
    )
    (work / "rows.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows))
    return AdaptResult(settings.out, comparison, seconds, tuple(notes))


def _part(split: Split, question: str) -> str:
    return split.part(question)


def _maybe_finetune(
    settings: AdaptSettings,
    prepared: Prepared,
    rows: list[Row],
    labels: Path,
    start: float,
    budget: float | None,
) -> tuple[list[Row], Path | None, str]:
    if settings.finetune_steps <= 0:
        return rows, None, "fine-tune skipped: --finetune-steps 0"
    need = finetune_seconds(settings.finetune_steps, len(rows))
    if budget is not None and time.monotonic() - start + need > budget:
        left = budget - (time.monotonic() - start)
        return (
            rows,
            None,
            (
                f"fine-tune skipped: about {need:.0f} s needed ({settings.finetune_steps} steps, "
                f"scoring {len(rows)} rows), {max(0.0, left):.0f} s of the budget left"
            ),
        )
    rows, path = finetune(settings, prepared.split, rows, labels)
    return rows, path, ""
