"""``guardrail calibrate``: a per-model Platt map from graded answers, then used by the scorer."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from guardrail.cli import main
from guardrail.lab.tasks import SyntheticArithmeticTask
from guardrail.scorers import create_scorer
from guardrail.scorers.logprob import LogprobScorer


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE", str(tmp_path / "cache"))


def _row(correct: bool, logprob: float) -> dict[str, Any]:
    entries = [{"token": t, "logprob": logprob, "top_logprobs": []} for t in ("4", ".")]
    return {"question": "2+2?", "answer": "4.", "correct": correct, "logprobs": entries}


def test_graded_answers_with_provider_logprobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graded = tmp_path / "graded.jsonl"
    rows = [_row(True, -0.05 * i) for i in range(6)] + [_row(False, -1.0 - i) for i in range(6)]
    rows += [_row(False, -0.02), _row(True, -1.5)]  # not separable: a finite map
    graded.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["calibrate", "--scorer", "logprob:mean_logprob", "--data", str(graded)]
    assert main(argv) == 2
    assert "--model" in capsys.readouterr().err
    assert main([*argv, "--model", "openai/gpt-4o-mini", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["fit"]["answers"] == len(rows)
    assert written["calibration"]["coef"] > 0
    scorer = create_scorer("logprob:mean_logprob")
    assert isinstance(scorer, LogprobScorer)
    assert scorer.card.generators == ("openai/gpt-4o-mini",)
    bound = scorer.for_model("gpt-4o-mini")
    assert bound.calibration is not None
    assert bound.score_tokens([]) == pytest.approx(7 / 14)


def test_a_file_with_one_outcome_or_without_logprobs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = tmp_path / "same.jsonl"
    same.write_text(json.dumps(_row(True, -0.1)) + "\n" + json.dumps(_row(True, -0.2)) + "\n")
    argv = ["calibrate", "--scorer", "logprob:min_window", "--model", "m"]
    assert main([*argv, "--data", str(same)]) == 2
    assert "right and wrong answers" in capsys.readouterr().err
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"question": "q", "answer": "a", "correct": True}) + "\n")
    assert main([*argv, "--data", str(bare)]) == 2
    assert "no logprobs" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"question": "q", "answer": "a", "correct": "yes"}) + "\n")
    assert main([*argv, "--data", str(broken)]) == 2
    assert "broken.jsonl:1" in capsys.readouterr().err


def test_a_label_file_is_recomputed_with_the_local_generator(
    tmp_path: Path, tiny: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    torch.set_num_threads(1)
    model, tokenizer = tiny
    local = tmp_path / "tiny-model"
    model.save_pretrained(local)
    tokenizer.save_pretrained(local)
    task = SyntheticArithmeticTask((1,))
    meta = {"type": "meta", "config": {"task": "synthetic", "difficulty": [1],
            "generator": str(local)}}  # fmt: skip
    lines = [meta]
    for index, item in enumerate(task.items()):
        if index == 4:
            break
        for correct, answer in ((True, f"The answer is {item.reference}."), (False, "No.")):
            lines.append(
                {"type": "label", "question_id": item.id, "text_kind": "outcome",
                 "question": item.question, "prefix": answer, "label": float(correct), "n": 1,
                 "correct": int(correct), "level": 0, "reference": item.reference}
            )  # fmt: skip
        lines.append({"type": "done", "question_id": item.id, "labels": 2})
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "map.json"
    argv = ["calibrate", "--scorer", "logprob:min_window", "--data", str(labels)]
    assert main([*argv, "--out", str(out), "--device", "cpu"]) == 0
    written = json.loads(out.read_text())
    assert written["model"] == str(local)  # the build's generator
    assert written["fit"]["recomputed"] == 8
    assert written["fit"]["answers"] == 8
    assert written["fit"]["correct"] == 4
    assert math.isfinite(written["calibration"]["intercept"])
    assert str(out) in capsys.readouterr().out
