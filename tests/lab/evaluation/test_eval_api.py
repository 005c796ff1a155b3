"""The public API of ``guardrail.lab.evaluation`` is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import guardrail.lab.evaluation as evaluation

EXPECTED = {
    "BASELINE_NAMES", "METHOD_NAMES", "METRIC_NAMES", "SUMMARY_KEYS", "AnswerRecord", "BCIGrid",
    "CalibrationMap", "EvalConfig", "Evaluation", "GeneratedAnswer", "GenerationSettings",
    "PositionTrace", "StrategyTrace", "acceptance", "accuracy_at_coverage", "auprc_errors",
    "auroc", "bci_ablation", "bootstrap", "brier", "build_report", "early_abort", "ece",
    "evaluate", "final_answer", "fit_calibration", "fit_isotonic", "fit_platt",
    "generate_answer", "jsonable", "markdown_report", "mce", "metric_table", "nll", "prr",
    "reliability_bins", "score_positions", "token_baselines", "write_report",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(evaluation.__all__) == EXPECTED
    for name in evaluation.__all__:
        assert getattr(evaluation, name) is not None


def test_summary_keys_are_the_issue_s() -> None:
    assert evaluation.SUMMARY_KEYS == (
        "finece_outcome_auroc",
        "finece_outcome_ece",
        "finece_outcome_ece_noise_floor",
        "finece_outcome_ece_within_noise",
        "finece_outcome_confidence_gap",
        "finece_outcome_brier",
        "finece_p1_auroc",
        "best_baseline_outcome_auroc",
        "base_accuracy",
        "accepted_accuracy_at_0_8",
        "finece_within_question_auroc",
        "hybrid_outcome_auroc",
    )


def test_import_stays_light() -> None:
    code = (
        "import sys, guardrail.lab.evaluation, guardrail.cli.eval\n"
        "heavy = ('torch', 'transformers', 'sklearn', 'matplotlib', 'litellm')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
