"""The evaluation pipeline end to end on the tiny random model: meaningless numbers, exact shape."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from guardrail.generation import LocalGenerator
from guardrail.lab.data.local import LocalBatchGenerator
from guardrail.lab.evaluation import (
    METHOD_NAMES,
    METRIC_NAMES,
    SUMMARY_KEYS,
    BCIGrid,
    EvalConfig,
    Evaluation,
    GenerationSettings,
    evaluate,
    write_report,
)
from guardrail.lab.evaluation.positions import RELATIVE_BUCKETS, STRATEGY_NAMES
from guardrail.lab.evaluation.runner import split_by_question
from guardrail.lab.tasks import GSM8KTask

CONFIG = EvalConfig(
    generation=GenerationSettings(max_new_tokens=120),
    self_consistency=2,
    n_bootstrap=20,
    bci=BCIGrid(widths=(0, 1)),
    future_max_new_tokens=6,
    periodic_every=8,
    entropy_threshold=0.5,
)


@pytest.fixture(scope="module")
def task(questions_file: Path) -> GSM8KTask:
    return GSM8KTask(questions_file)


@pytest.fixture(scope="module")
def result(tiny: tuple[Any, Any], tiny_scorer: Any, scripted: Any, task: GSM8KTask) -> Evaluation:
    model, tokenizer = tiny
    sampler = LocalBatchGenerator(model, tokenizer, name="tiny-sampler")
    return evaluate(tiny_scorer, scripted, task, task.items(), CONFIG, sampler=sampler)


def test_summary_has_exactly_the_listed_keys(result: Evaluation) -> None:
    summary = result.report["summary"]
    assert tuple(summary) == SUMMARY_KEYS
    assert summary["base_accuracy"] == 0.5
    for key, value in summary.items():
        assert math.isnan(value) == (key in result.report["summary_undefined"])
    assert 0.0 <= summary["finece_outcome_ece"] <= 1.0
    assert 0.0 <= summary["finece_outcome_auroc"] <= 1.0
    assert result.report["meta"]["calibration"] is None  # the tiny scorer carries no map


def test_answers_are_generated_cut_and_checked(
    result: Evaluation, scripted_questions: tuple[tuple[str, str, str], ...]
) -> None:
    answers = result.report["answers"]
    assert [a["correct"] for a in answers] == [True, True, False, False]
    assert answers[3]["completion"] == "7 + 8 = 14.\nThe answer is 14."  # cut at "\nQuestion:"
    for row, (question, reference, _) in zip(answers, scripted_questions, strict=True):
        assert row["question"] == question
        assert row["reference"] == reference
        assert row["tokens"] == len(row["completion"])  # character tokenizer
        assert row["split"] in ("dev", "test")
    assert {a["split"] for a in answers} == {"dev", "test"}


def test_positions_match_direct_scoring(result: Evaluation, tiny_scorer: Any) -> None:
    record = result.records[0]
    question, answer = record.answer.question, record.answer.completion
    trace = record.positions
    assert len(trace.process) == 2  # three paragraphs
    first_line = answer[: answer.index("\n") + 1]
    assert trace.p1 == pytest.approx(tiny_scorer.score(question, first_line), abs=1e-4)
    assert trace.question == pytest.approx(tiny_scorer.score(question, ""), abs=1e-4)
    assert trace.outcome == pytest.approx(tiny_scorer.score(question, answer), abs=1e-4)
    assert trace.process_tokens[0] == len(first_line)
    assert trace.p1_token_share == pytest.approx(len(first_line) / len(answer))


def test_position_section(result: Evaluation) -> None:
    positions = result.report["positions"]
    for key in ("question", "p1", "pz1", "outcome", "process", *RELATIVE_BUCKETS):
        assert set(METRIC_NAMES) <= set(positions[key])
    assert positions["outcome"]["n"] == 4
    total_process = sum(len(r.positions.process) for r in result.records)
    assert positions["process"]["n"] == total_process
    assert sum(positions[b]["n"] for b in RELATIVE_BUCKETS) == total_process
    assert 0.0 < positions["p1_token_share"] <= 1.0


def test_strategies(result: Evaluation) -> None:
    strategies = result.report["strategies"]
    assert tuple(strategies) == STRATEGY_NAMES
    for name, section in strategies.items():
        assert 0.0 <= section["tokens_before_first_share"] <= 1.0, name
        assert section["all_estimates"]["n"] >= section["first_estimate"]["n"]
    # periodic(8) with the default min_gap 8 fires on every answer longer than 8 tokens
    assert strategies["periodic"]["answers_without_estimate"] == 0
    trace = result.records[0].strategies["periodic"]
    assert trace.token_indices[0] == 8


def test_methods_raw_and_calibrated(result: Evaluation) -> None:
    methods = result.report["methods"]
    assert tuple(methods) == METHOD_NAMES
    for name, method in methods.items():
        assert method["status"] == "ok", name
        assert set(method["test"]) == {"raw", "platt", "isotonic"}
        below = not math.isnan(method["raw"]["auroc"]) and method["raw"]["auroc"] < 0.5
        assert ("auroc_below_0_5" in method["flags"]) == below
        assert (f"methods.{name}.raw" in result.report["flags"]["auroc_below_0_5"]) == below
    assert [r.baselines["verbalized"] for r in result.records] == [0.7] * 4
    consistency = [r.baselines["self_consistency"] for r in result.records]
    assert all(v is not None and 0.0 <= v <= 1.0 for v in consistency)
    assert methods["finece"]["raw"]["n"] == 4
    assert methods["finece"]["missing"] == 0
    ranked = result.report["baselines_by_auroc"]
    if ranked:
        assert result.report["summary"]["best_baseline_outcome_auroc"] == ranked[0]["auroc"]


def test_bci_grid_rows(result: Evaluation) -> None:
    rows = result.report["bci"]
    assert len(rows) == 2 * 3 * 3
    assert all(row["status"] == "ok" for row in rows)
    identity = next(r for r in rows if r["width"] == 0 and r["depth"] == 0)
    assert identity["positions"]["p1"]["ece_15"] == result.report["positions"]["p1"]["ece_15"]
    # depth > 0 changes p1 (it folds in later estimates); the outcome is never revised
    deep = next(r for r in rows if r["width"] == 0 and r["depth"] == 2 and r["alpha"] == 0.3)
    assert deep["positions"]["outcome"] == identity["positions"]["outcome"]
    assert deep["positions"]["p1"]["ece_15"] != identity["positions"]["p1"]["ece_15"]


def test_downstream(result: Evaluation) -> None:
    acceptance = result.report["downstream"]["acceptance"]
    at_08 = next(r for r in acceptance if r["threshold"] == 0.8)
    summary_value = result.report["summary"]["accepted_accuracy_at_0_8"]
    assert (math.isnan(summary_value) and math.isnan(at_08["accepted_accuracy"])) or (
        summary_value == at_08["accepted_accuracy"]
    )
    abort = result.report["downstream"]["early_abort"]
    assert [r["threshold"] for r in abort] == [r["threshold"] for r in acceptance]
    high = abort[-1]  # the highest threshold stops at least as much as the lowest
    assert high["wrong_stopped"] + high["correct_lost"] >= abort[0]["wrong_stopped"]


def test_written_report(result: Evaluation, tmp_path: Path) -> None:
    files = write_report(result.report, tmp_path / "out" / "eval.json")
    assert set(files) == {"json", "markdown", "reliability", "positions"}

    def no_nan(token: str) -> None:
        raise AssertionError(f"non-standard JSON constant {token}")

    data = json.loads(Path(files["json"]).read_text(), parse_constant=no_nan)
    assert tuple(data["summary"]) == SUMMARY_KEYS
    assert data["files"] == files
    markdown = Path(files["markdown"]).read_text()
    for heading in ("## Summary", "## Methods", "## FineCE by position", "## BCI ablation"):
        assert heading in markdown
    for key in ("reliability", "positions"):
        assert Path(files[key]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_sampler_and_with_empty_answers(
    tiny: tuple[Any, Any], tiny_scorer: Any, task: GSM8KTask
) -> None:
    """The bare tiny model ends its turn at once: empty answers, all wrong, nothing crashes."""
    from guardrail.calibration import PlattMap
    from guardrail.scorers.finece import FineCEScorer

    model, tokenizer = tiny
    mapping = PlattMap(coef=1.5, intercept=0.2)
    calibrated = FineCEScorer(model, tokenizer, calibration=mapping)
    config = EvalConfig(
        generation=GenerationSettings(max_new_tokens=4),
        n_bootstrap=5,
        verbalized=False,
        bci=BCIGrid(alphas=(0.5,), depths=(1,), widths=(0, 2)),
    )
    items = list(task.items())[:2]
    report = evaluate(calibrated, LocalGenerator(model, tokenizer), task, items, config).report
    assert report["meta"]["calibration"] == mapping.to_dict()
    raw_question = tiny_scorer.score(items[0].question, "")
    expected = float(mapping.apply([raw_question])[0])
    assert report["answers"][0]["finece"]["question"] == pytest.approx(expected, abs=1e-5)
    methods = report["methods"]
    assert methods["self_consistency"] == {
        "status": "skipped",
        "reason": "no sampler given to draw self-consistency answers",
    }
    assert methods["verbalized"]["status"] == "skipped"
    skipped = [r for r in report["bci"] if r["status"] == "skipped"]
    assert [r["width"] for r in skipped] == [2]
    assert "no future sampler" in skipped[0]["reason"]
    summary = report["summary"]
    assert math.isnan(summary["finece_outcome_auroc"])
    assert "auroc needs correct and wrong" in report["summary_undefined"]["finece_outcome_auroc"]
    for row in report["answers"]:
        assert row["tokens"] == len(row["completion"])
        if not row["completion"]:
            assert row["baselines"]["mean_logprob"] is None
            assert row["finece"]["p1"] == row["finece"]["outcome"]


def test_split_is_by_question_and_seeded() -> None:
    ids = ["a", "b", "c", "d", "a"]
    split = split_by_question(ids, 0.5, seed=3)
    assert split == split_by_question(list(reversed(ids)), 0.5, seed=3)
    assert sorted(split.values()) == ["dev", "dev", "test", "test"]
    assert set(split_by_question(["x", "y"], 0.9, seed=0).values()) == {"dev", "test"}
    assert split_by_question(["x"], 0.5, seed=0) in ({"x": "dev"}, {"x": "test"})


def test_every_auroc_below_half_is_flagged(result: Evaluation) -> None:
    flagged = set(result.report["flags"]["auroc_below_0_5"])
    positions = result.report["positions"]
    for key in ("question", "p1", "pz1", "process", "outcome"):
        auroc = positions[key]["auroc"]
        assert (f"positions.{key}" in flagged) == (not math.isnan(auroc) and auroc < 0.5)
    for path in flagged:
        node: Any = result.report
        for part in path.replace("[", ".[").split("."):
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        assert node["auroc"] < 0.5


def test_answers_file_is_written_then_reused_unchanged(
    tiny: tuple[Any, Any], tiny_scorer: Any, scripted: Any, task: GSM8KTask, tmp_path: Path
) -> None:
    from dataclasses import replace

    from guardrail.errors import GuardrailConfigError

    model, tokenizer = tiny
    sampler = LocalBatchGenerator(model, tokenizer, name="tiny-sampler")
    config = replace(CONFIG, bci=BCIGrid(widths=(0,)), n_bootstrap=0)
    path = tmp_path / "answers.jsonl"
    first = evaluate(
        tiny_scorer, scripted, task, task.items(), config, sampler=sampler, answers_file=path
    )
    assert path.is_file()

    class NoGeneration:  # a generator that must not be asked: the answers come from the file
        name = scripted.name

        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"generator.{name} used although the answers were cached")

    second = evaluate(
        tiny_scorer, NoGeneration(), task, task.items(),  # type: ignore[arg-type]
        replace(config, p_true=False, verbalized=False), sampler=sampler, answers_file=path,
    )  # fmt: skip
    assert [r.answer for r in second.records] == [r.answer for r in first.records]
    assert second.report["within_question"] == first.report["within_question"]
    assert [r.positions for r in second.records] == [r.positions for r in first.records]
    with pytest.raises(GuardrailConfigError, match="self_consistency=2, this run has 3"):
        evaluate(
            tiny_scorer, scripted, task, task.items(), replace(config, self_consistency=3),
            sampler=sampler, answers_file=path,
        )  # fmt: skip
    with pytest.raises(GuardrailConfigError, match="holds 4 answers, this run asks for 2"):
        evaluate(
            tiny_scorer, scripted, task, list(task.items())[:2], config,
            sampler=sampler, answers_file=path,
        )  # fmt: skip
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", *lines[2:]]) + "\n")
    with pytest.raises(GuardrailConfigError, match=r"answers.jsonl:2: malformed answer"):
        evaluate(
            tiny_scorer, scripted, task, task.items(), config, sampler=sampler, answers_file=path
        )
