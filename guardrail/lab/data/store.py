"""A resumable, append-only JSONL store of labels with one completion marker per question.

Layout of the file, one JSON object per line:

* ``{"type": "meta", "config": {...}}`` first: the build settings, checked on resume;
* ``{"type": "label", "question_id": ..., "text_kind": "question" | "process" | "outcome", ...}``
  for every label;
* ``{"type": "done", "question_id": ..., "labels": N, ...}`` after the last label of a question,
  flushed and fsynced, so a question counts as built only once its marker is on disk.

Opening a store takes an exclusive lock (one builder per file) and repairs the file: labels of
questions without a marker (a run killed mid-question) and a torn last line are dropped by
rewriting the file atomically (temporary file, fsync, rename). Re-running the same build
therefore continues where it stopped, with no duplicates and nothing lost.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from guardrail.errors import GuardrailConfigError

__all__ = ["LabelStore", "read_labels", "read_records"]


def _parse_lines(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path`` (a torn or corrupt line is skipped)."""
    records = []
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # torn by a kill mid-write: always the last line
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def _committed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of finished questions only, each question once (its first finished copy)."""
    done: dict[str, dict[str, Any]] = {}
    pending: dict[str, list[dict[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    for record in records:
        kind, qid = record.get("type"), record.get("question_id")
        if kind == "meta":
            if not out or out[0].get("type") != "meta":
                out.insert(0, record)
        elif kind == "label" and isinstance(qid, str):
            if qid not in done:
                pending.setdefault(qid, []).append(record)
        elif kind == "done" and isinstance(qid, str) and qid not in done:
            count, labels = record.get("labels"), pending.pop(qid, [])
            if not isinstance(count, int) or len(labels) < count:
                continue  # labels lost: treat the question as unfinished
            # Labels of an earlier, unfinished attempt at the question may precede these.
            labels = labels[len(labels) - count :]
            done[qid] = record
            out.extend([*labels, record])
    return out


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The committed records of a store (meta, labels and markers of finished questions)."""
    source = Path(path)
    return _committed(_parse_lines(source)) if source.exists() else []


def read_labels(path: str | Path) -> Iterator[dict[str, Any]]:
    """The label records of finished questions, in file order."""
    return (r for r in read_records(path) if r.get("type") == "label")


class LabelStore:
    """Append labels question by question; see the module docstring for the guarantees."""

    def __init__(self, path: str | Path, config: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.config: dict[str, Any] = json.loads(json.dumps(dict(config)))
        self._lock: IO[bytes] | None = None
        self._handle: IO[str] | None = None
        self.done: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Lock the file, drop unfinished questions, check the settings, open for appending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(f"{self.path}.lock", "wb")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise GuardrailConfigError(f"{self.path} is being written by another build") from None
        try:
            self._repair()
            self._handle = self.path.open("a", encoding="utf-8")
        except BaseException:
            self.close()
            raise

    def _repair(self) -> None:
        raw = _parse_lines(self.path) if self.path.exists() else []
        records = _committed(raw)
        if records and records[0].get("type") == "meta":
            self._check_config(records[0].get("config", {}))
        else:
            records.insert(0, {"type": "meta", "config": self.config})
        if records != raw or not self.path.exists():
            self._rewrite(records)
        self.done = {r["question_id"]: r for r in records if r.get("type") == "done"}

    def close(self) -> None:
        """Close the file and release the lock."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def is_done(self, question_id: str) -> bool:
        """Whether the question's marker is already on disk."""
        return question_id in self.done

    def commit(self, question_id: str, labels: Sequence[Mapping[str, Any]], **summary: Any) -> None:
        """Append a question's labels then its marker (``summary`` goes into it); fsync."""
        if self._handle is None:
            raise RuntimeError("LabelStore is not open")
        if question_id in self.done:
            raise ValueError(f"question {question_id!r} is already in {self.path}")
        marker = {"type": "done", "question_id": question_id, "labels": len(labels), **summary}
        lines = [
            json.dumps({"type": "label", "question_id": question_id, **label}, ensure_ascii=False)
            for label in labels
        ]
        lines.append(json.dumps(marker, ensure_ascii=False))
        self._handle.write("\n".join(lines) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.done[question_id] = marker

    def _check_config(self, stored: Mapping[str, Any]) -> None:
        changed = sorted(
            key for key in set(stored) | set(self.config) if stored.get(key) != self.config.get(key)
        )
        if changed:
            details = "; ".join(
                f"{key}: {stored.get(key)!r} in the file, {self.config.get(key)!r} now"
                for key in changed
            )
            raise GuardrailConfigError(
                f"{self.path} was built with other settings ({details}); "
                "resume with the same settings or write to another file"
            )

    def _rewrite(self, records: list[dict[str, Any]]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
