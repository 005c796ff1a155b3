"""Export review items as JSON lines or CSV (one row per item, nested values as JSON)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from guardrail.errors import GuardrailConfigError
from guardrail.review.models import ReviewItem

__all__ = ["CSV_COLUMNS", "write_items"]

CSV_COLUMNS = (
    "id",
    "created_at",
    "status",
    "queue",
    "question",
    "answer",
    "partial",
    "confidence",
    "rule",
    "model",
    "run_id",
    "dedupe_key",
    "verdict",
    "reviewer",
    "decided_at",
    "edited_answer",
    "note",
    "events",
    "attempts",
    "metadata",
    "claimed_by",
    "claimed_until",
)


def _csv_row(item: ReviewItem) -> dict[str, Any]:
    data = item.model_dump(mode="json")
    decision = data.pop("decision") or {}
    row = {key: data[key] for key in CSV_COLUMNS if key in data}
    for key in ("verdict", "reviewer", "decided_at", "edited_answer", "note"):
        row[key] = decision.get(key)
    for key in ("events", "attempts", "metadata"):
        row[key] = json.dumps(data[key], ensure_ascii=False, sort_keys=True)
    return {key: "" if value is None else value for key, value in row.items()}


def write_items(items: Iterable[ReviewItem], out: TextIO, format: str = "jsonl") -> int:
    """Write ``items`` to ``out`` as ``jsonl`` or ``csv``; return how many were written."""
    count = 0
    if format == "jsonl":
        for item in items:
            out.write(item.model_dump_json() + "\n")
            count += 1
    elif format == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for item in items:
            writer.writerow(_csv_row(item))
            count += 1
    else:
        raise GuardrailConfigError(f"unknown export format {format!r} (expected 'jsonl' or 'csv')")
    return count
