"""The resumable JSONL store: commits, repair after a crash, settings check, locking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.lab.data import LabelStore, read_labels, read_records

CONFIG = {"task": "synthetic", "k": 4}


def _labels(n: int) -> list[dict[str, object]]:
    return [{"text_kind": "outcome", "prefix": f"answer {i}", "label": 1.0} for i in range(n)]


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_commit_writes_labels_then_marker(tmp_path: Path) -> None:
    path = tmp_path / "out" / "train.jsonl"
    with LabelStore(path, CONFIG) as store:
        store.commit("q1", _labels(2), fraction_correct=0.5)
        assert store.is_done("q1")
        with pytest.raises(ValueError, match="already"):
            store.commit("q1", _labels(1))
    lines = _lines(path)
    assert [line["type"] for line in lines] == ["meta", "label", "label", "done"]
    assert lines[0]["config"] == CONFIG
    assert lines[-1] == {"type": "done", "question_id": "q1", "labels": 2, "fraction_correct": 0.5}
    assert [r["prefix"] for r in read_labels(path)] == ["answer 0", "answer 1"]


def test_reopen_drops_unfinished_questions_and_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    with LabelStore(path, CONFIG) as store:
        store.commit("q1", _labels(2))
    with path.open("a") as handle:  # a run killed inside q2, mid-line
        handle.write(json.dumps({"type": "label", "question_id": "q2", "label": 0.0}) + "\n")
        handle.write('{"type": "label", "question_id": "q2", "lab')
    assert [r["question_id"] for r in read_records(path)[1:]] == ["q1"] * 3
    with LabelStore(path, CONFIG) as store:
        assert store.is_done("q1")
        assert not store.is_done("q2")
        store.commit("q2", _labels(1))
    assert [(r["type"], r.get("question_id")) for r in _lines(path)] == [
        ("meta", None),
        ("label", "q1"),
        ("label", "q1"),
        ("done", "q1"),
        ("label", "q2"),
        ("done", "q2"),
    ]


def test_reader_keeps_the_finished_attempt_only(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    rows = [
        {"type": "meta", "config": CONFIG},
        {"type": "label", "question_id": "q", "prefix": "stale"},
        {"type": "label", "question_id": "q", "prefix": "new"},
        {"type": "done", "question_id": "q", "labels": 1},
        {"type": "label", "question_id": "q", "prefix": "after"},
        {"type": "done", "question_id": "q", "labels": 1},
        {"type": "done", "question_id": "lost", "labels": 3},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r["prefix"] for r in read_labels(path)] == ["new"]
    assert [r["question_id"] for r in read_records(path) if r["type"] == "done"] == ["q"]


def test_resuming_with_other_settings_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    with LabelStore(path, CONFIG) as store:
        store.commit("q1", _labels(1))
    with pytest.raises(GuardrailConfigError, match=r"k: 4 in the file, 8 now"):
        LabelStore(path, {**CONFIG, "k": 8}).open()
    with LabelStore(path, {"k": 4, "task": "synthetic"}) as store:  # key order is irrelevant
        assert store.is_done("q1")


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    with LabelStore(path, CONFIG), pytest.raises(GuardrailConfigError, match="another build"):
        LabelStore(path, CONFIG).open()
    with LabelStore(path, CONFIG) as store:  # released on close
        assert not store.done


def test_missing_file_reads_empty(tmp_path: Path) -> None:
    assert read_records(tmp_path / "none.jsonl") == []
