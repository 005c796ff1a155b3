"""Evaluation of FineCE against baselines on generated answers (``guardrail eval``).

:func:`evaluate` generates answers to a task's items, scores them with FineCE at every
position and strategy and with every baseline, and builds the report; :func:`write_report`
writes it as JSON, markdown and PNG figures. The metric functions (:mod:`.metrics`) and the
calibration maps (:mod:`.calibration`) are plain numpy/scikit-learn and usable on their own.
"""

from guardrail.lab.evaluation.ablation import BCIGrid, bci_ablation
from guardrail.lab.evaluation.analysis import METHOD_NAMES, SUMMARY_KEYS, build_report
from guardrail.lab.evaluation.answers import GeneratedAnswer, GenerationSettings, generate_answer
from guardrail.lab.evaluation.baselines import BASELINE_NAMES, final_answer, token_baselines
from guardrail.lab.evaluation.calibration import (
    CalibrationMap,
    fit_calibration,
    fit_isotonic,
    fit_platt,
)
from guardrail.lab.evaluation.downstream import acceptance, early_abort
from guardrail.lab.evaluation.metrics import (
    METRIC_NAMES,
    accuracy_at_coverage,
    auprc_errors,
    auroc,
    bootstrap,
    brier,
    ece,
    mce,
    metric_table,
    nll,
    prr,
    reliability_bins,
)
from guardrail.lab.evaluation.positions import PositionTrace, StrategyTrace, score_positions
from guardrail.lab.evaluation.report import jsonable, markdown_report, write_report
from guardrail.lab.evaluation.runner import AnswerRecord, EvalConfig, Evaluation, evaluate

__all__ = [
    "BASELINE_NAMES",
    "METHOD_NAMES",
    "METRIC_NAMES",
    "SUMMARY_KEYS",
    "AnswerRecord",
    "BCIGrid",
    "CalibrationMap",
    "EvalConfig",
    "Evaluation",
    "GeneratedAnswer",
    "GenerationSettings",
    "PositionTrace",
    "StrategyTrace",
    "acceptance",
    "accuracy_at_coverage",
    "auprc_errors",
    "auroc",
    "bci_ablation",
    "bootstrap",
    "brier",
    "build_report",
    "early_abort",
    "ece",
    "evaluate",
    "final_answer",
    "fit_calibration",
    "fit_isotonic",
    "fit_platt",
    "generate_answer",
    "jsonable",
    "markdown_report",
    "mce",
    "metric_table",
    "nll",
    "prr",
    "reliability_bins",
    "score_positions",
    "token_baselines",
    "write_report",
]
