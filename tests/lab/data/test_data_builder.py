"""Algorithm 1 end to end: a scripted generator for exact labels, the tiny model for plumbing."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from data_doubles import ScriptedGenerator

from guardrail.errors import GuardrailConfigError
from guardrail.lab.data import (
    BuildConfig,
    LabelStore,
    LocalBatchGenerator,
    Prompt,
    build,
    read_records,
    summarize,
)
from guardrail.lab.tasks import SyntheticArithmeticTask, TaskItem


def _reference(prompt: Prompt, task: SyntheticArithmeticTask, items: list[TaskItem]) -> str:
    question = prompt.messages[-1]["content"].removeprefix("Question: ")
    return next(str(i.reference) for i in items if i.question == question)


def _script(task: SyntheticArithmeticTask, items: list[TaskItem]) -> Any:
    """Answers that are right unless they contain "path 1"; each has three paragraphs."""

    def script(prompt: Prompt, index: int) -> str:
        answer = int(_reference(prompt, task, items))
        if not prompt.prefix:
            return f"Start.\nTake path {index % 3}.\nThe answer is {answer + (index % 3 == 1)}."
        wrong = "path 1" in prompt.prefix
        return f"Then more.\nAnd more.\nThe answer is {answer + wrong}."

    return script


@pytest.mark.parametrize("levels", [0, 1, 2])
def test_labels_follow_algorithm_1(tmp_path: Path, levels: int) -> None:
    task = SyntheticArithmeticTask((1, 2))
    items = list(itertools.islice(task.items(), 3))
    generator = ScriptedGenerator(_script(task, items))
    config = BuildConfig(k=6, levels=levels, cluster_threshold=0.3, batch_questions=3)
    with LabelStore(tmp_path / "l.jsonl", {"levels": levels}) as store:
        report = build(task, generator, items, store, config, progress=False)
    records = read_records(tmp_path / "l.jsonl")
    assert report.built == 3
    assert report.skipped == 0
    assert len(generator.calls) == 1 + levels  # each stage of all questions in one call
    assert generator.calls[0] == (3, 6)
    for item in items:
        labels = [r for r in records if r.get("question_id") == item.id and r["type"] == "label"]
        (marker,) = [r for r in records if r.get("question_id") == item.id and r["type"] == "done"]
        by_kind = {
            kind: [r for r in labels if r["text_kind"] == kind]
            for kind in ("question", "process", "outcome")
        }
        (question,) = by_kind["question"]
        assert question["prefix"] == ""
        assert question["n"] == 6
        assert question["label"] == pytest.approx(4 / 6) == marker["fraction_correct"]
        assert marker["labels"] == len(labels)
        assert marker["metadata"]["difficulty"] == item.metadata["difficulty"]
        for outcome in by_kind["outcome"]:
            assert outcome["label"] == float(task.check(outcome["prefix"], item.reference))
        process = by_kind["process"]
        level_one = [p for p in process if p["level"] == 1]
        assert len(level_one) == (marker["clusters"] if levels else 0)
        assert len(process) <= len(level_one) * max(levels, 1)
        for label in process:
            assert label["prefix"].endswith("\n")
            assert label["n"] == 6
            assert label["label"] == (0.0 if "path 1" in label["prefix"] else 1.0)
        assert len(by_kind["outcome"]) == 6 * (1 + len(process))
        if levels == 2:
            level_two = [p for p in process if p["level"] == 2]
            assert len(level_two) == len(level_one)  # every chain goes one level deeper
            assert all(p["prefix"].count("\n") > 1 for p in level_two)
    assert report.labels == sum(r["type"] == "label" for r in records)
    assert report.tokens == sum(r["tokens"] for r in records if r["type"] == "done") > 0


def test_max_clusters_caps_the_representatives(tmp_path: Path) -> None:
    task = SyntheticArithmeticTask((1,))
    items = list(itertools.islice(task.items(), 2))
    generator = ScriptedGenerator(_script(task, items))
    config = BuildConfig(k=6, levels=1, cluster_threshold=0.0, max_clusters=1)
    with LabelStore(tmp_path / "l.jsonl", {}) as store:
        build(task, generator, items, store, config, progress=False)
    records = read_records(tmp_path / "l.jsonl")
    assert [r["clusters"] for r in records if r["type"] == "done"] == [1, 1]
    assert generator.calls[1] == (2, 6)


def test_finished_questions_are_skipped(tmp_path: Path) -> None:
    task = SyntheticArithmeticTask((1,))
    items = list(itertools.islice(task.items(), 4))
    config = BuildConfig(k=2, levels=1, batch_questions=3)
    path = tmp_path / "l.jsonl"
    with LabelStore(path, {}) as store:
        build(
            task, ScriptedGenerator(_script(task, items)), items[:2], store, config, progress=False
        )
    generator = ScriptedGenerator(_script(task, items))
    with LabelStore(path, {}) as store:
        report = build(task, generator, items, store, config, progress=False)
    assert (report.built, report.skipped) == (2, 2)
    assert generator.calls[0] == (2, 2)
    done = [r["question_id"] for r in read_records(path) if r["type"] == "done"]
    assert done == [item.id for item in items]


@pytest.mark.parametrize(
    "settings",
    [
        {"k": 0},
        {"levels": -1},
        {"cluster_threshold": -0.1},
        {"max_clusters": 0},
        {"batch_questions": 0},
    ],
)
def test_bad_settings(settings: dict[str, Any]) -> None:
    with pytest.raises(GuardrailConfigError):
        BuildConfig(**settings)


def test_tiny_model_end_to_end(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    task = SyntheticArithmeticTask((1, 2))
    items = list(itertools.islice(task.items(), 3))
    generator = LocalBatchGenerator(*tiny, name="tiny")
    config = BuildConfig(k=3, levels=1, max_new_tokens=24, batch_questions=2)
    path = tmp_path / "tiny.jsonl"
    with LabelStore(path, config.resume_key()) as store:
        report = build(task, generator, items, store, config, progress=False)
    records = read_records(path)
    summary = summarize(records)
    assert summary.questions == 3 == report.built
    assert summary.labels_by_kind["question"] == 3
    assert summary.labels_by_kind["outcome"] == 3 * (3 + summary.labels_by_kind.get("process", 0))
    assert report.tokens > 0
    assert report.tokens_per_second > 0
    assert set(summary.histograms["outcome"]) <= {"0.0", "1.0"}
    assert "questions: 3" in summary.format()
