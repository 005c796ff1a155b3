"""The per-family table over evaluation reports: read, never invented."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from guardrail.lab.evaluation.families import family_rows, main, pooled_outcome


def _method(auroc: float) -> dict[str, Any]:
    return {"status": "ok", "raw": {"auroc": auroc, "ece_15": 0.1, "ci": {"auroc": [0.5, 0.9]}}}


def _report(task: str, finece: float, entropy: float, answers: list[tuple[float, bool]]) -> Any:
    return {
        "meta": {"task": task, "scorer": "s", "answers": len(answers), "base_accuracy": 0.5},
        "methods": {
            "finece": _method(finece),
            "hybrid": _method(0.8),
            "mean_logprob": _method(0.6),
            "min_window": {"status": "skipped", "reason": "x"},
            "mean_entropy": _method(entropy),
        },
        "positions": {"question": {"auroc": 0.55}, "p1": {"auroc": 0.65}},
        "within_question": {"macro_auroc": 0.7, "pairs": 12, "ci": {"macro_auroc": [0.6, 0.8]}},
        "answers": [{"finece": {"outcome": c}, "correct": y} for c, y in answers],
    }


def test_rows_take_the_best_logprob_baseline_of_the_same_run() -> None:
    reports = {"facts": _report("facts", 0.9, 0.7, [(0.9, True), (0.1, False)])}
    (row,) = family_rows(reports)
    assert row["best_logprob"] == "mean_entropy"
    assert row["margin_over_best_logprob"] == pytest.approx(0.2)
    assert row["within_auroc"] == 0.7
    assert row["hybrid_auroc"] == 0.8


def test_pooled_metrics_use_every_answer_of_every_report(tmp_path: Path) -> None:
    reports = {
        "a": _report("a", 0.9, 0.7, [(0.9, True), (0.2, False), (0.8, True)]),
        "b": _report("b", 0.6, 0.7, [(0.3, True), (0.4, False)]),
    }
    pooled = pooled_outcome(reports, n_bootstrap=20)
    assert pooled["answers"] == 5
    assert pooled["auroc"] == pytest.approx(5 / 6)  # 5 of the 6 right/wrong pairs in order
    paths = []
    for name, report in reports.items():
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(report))
    out = tmp_path / "t.json"
    assert main([*map(str, paths), "--json", str(out), "--markdown", str(tmp_path / "t.md")]) == 0
    written = json.loads(out.read_text())
    assert [r["family"] for r in written["families"]] == ["a", "b"]
    assert "Pooled over the 5 answers" in (tmp_path / "t.md").read_text()
    assert not math.isnan(written["pooled"]["ece_15"])


def test_undefined_metrics_read_from_a_written_report_are_not_numbers() -> None:
    report = _report("facts", 0.9, 0.7, [(0.9, True), (0.1, True)])
    report["methods"]["finece"]["raw"]["auroc"] = None  # one class only: written as null
    report["methods"]["mean_entropy"]["raw"]["auroc"] = None
    (row,) = family_rows({"facts": report})
    assert row["best_logprob"] == "mean_logprob"
    assert math.isnan(row["margin_over_best_logprob"])
