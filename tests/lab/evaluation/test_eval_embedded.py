"""The evaluation end to end on the real embedded model, on three questions (kept short)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from guardrail.generation import LocalGenerator
from guardrail.lab.evaluation import (
    METHOD_NAMES,
    SUMMARY_KEYS,
    EvalConfig,
    GenerationSettings,
    evaluate,
    write_report,
)
from guardrail.lab.tasks import GSM8KTask

pytestmark = pytest.mark.slow

ROWS = (
    ("Tom has 3 apples and buys 2 more. How many apples does he have now?", "5"),
    ("A box holds 4 pens. How many pens are in 3 boxes?", "12"),
    ("Sara had 10 cookies and ate 3. How many cookies are left?", "7"),
)


def test_embedded_end_to_end(embedded: Any, embedded_scorer: Any, tmp_path: Path) -> None:
    data = tmp_path / "questions.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in ROWS))
    task = GSM8KTask(data, shots=1)  # one worked example: a short prompt to prefill on CPU
    generator = LocalGenerator(embedded.model, embedded.tokenizer, name="embedded")
    config = EvalConfig(
        generation=GenerationSettings(max_new_tokens=32),
        self_consistency=0,
        strategies=("paragraph",),  # each strategy replays every answer through the scorer
        verbalized_max_new_tokens=4,
        n_bootstrap=20,
    )
    result = evaluate(embedded_scorer, generator, task, task.items(), config)
    report = result.report
    assert tuple(report["summary"]) == SUMMARY_KEYS
    assert tuple(report["methods"]) == METHOD_NAMES
    assert report["methods"]["self_consistency"]["status"] == "skipped"
    for record in result.records:
        assert record.answer.completion.strip()
        assert record.positions.tokens > 0
        assert all(0.0 <= v <= 1.0 for v in record.positions.chain)
        for name in ("mean_logprob", "min_window", "mean_entropy", "first_token", "p_true"):
            value = record.baselines[name]
            assert value is not None, name
            assert 0.0 <= value <= 1.0, name
        correct = task.check(record.answer.completion, record.answer.reference)
        assert record.answer.correct == correct
    ece = report["summary"]["finece_outcome_ece"]
    assert 0.0 <= ece <= 1.0
    assert not math.isnan(ece)

    files = write_report(report, tmp_path / "eval.json")
    assert json.loads(Path(files["json"]).read_text())["meta"]["answers"] == 3
    assert Path(files["reliability"]).stat().st_size > 0
