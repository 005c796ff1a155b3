"""Turn per-answer measurements into the report's sections (a JSON-ready dict).

Layout (every number computed from the records; NaN where a metric is undefined, with the
reason under ``undefined``/``reason`` keys):

* ``summary``: exactly :data:`SUMMARY_KEYS`; ``summary_undefined`` gives reasons for NaNs;
* ``meta`` and ``config``;
* ``methods``: FineCE's outcome estimate and every baseline, each with ``raw`` metrics on all
  answers, ``test`` metrics (``raw``, ``platt``, ``isotonic``: maps fitted on the dev split),
  ``missing`` (answers without a value) and ``flags`` (``auroc_below_0_5``);
* ``positions``: FineCE at the question, ``p1``, ``pz1``, the outcome, all paragraph ends pooled
  (``process``) and per relative-position bucket, plus ``p1_token_share``;
* ``strategies``: per checkpoint strategy, metrics of the first estimate and of all estimates,
  ``tokens_before_first_share`` and ``estimates_per_answer``;
* ``bci``: the ablation rows (:func:`~guardrail.lab.evaluation.ablation.bci_ablation`);
* ``downstream``: ``acceptance`` and ``early_abort`` rows per threshold;
* ``baselines_by_auroc`` (best first); ``flags.auroc_below_0_5``: the dotted path of every
  table above whose AUROC is below 0.5 (e.g. ``methods.p_true.raw``, ``positions.p1``);
* ``hybrid``: the features and both folds' combiners of the ``hybrid`` method, or ``skipped``;
* ``within_question``: right vs wrong answers to the same question
  (:func:`~guardrail.lab.evaluation.within.within_question_report`), or ``skipped`` with a reason;
* ``answers``: one entry per answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.ablation import Futures, bci_ablation
from guardrail.lab.evaluation.baselines import BASELINE_NAMES
from guardrail.lab.evaluation.calibration import CALIBRATION_KINDS, fit_calibration, unfit_reason
from guardrail.lab.evaluation.downstream import acceptance, early_abort
from guardrail.lab.evaluation.hybrid import crossfit_hybrid
from guardrail.lab.evaluation.metrics import CI_METRICS, metric_table
from guardrail.lab.evaluation.positions import position_samples
from guardrail.lab.evaluation.records import AnswerRecord, EvalConfig
from guardrail.lab.evaluation.within import AnswerGroup, within_question_report

__all__ = ["METHOD_NAMES", "SUMMARY_KEYS", "build_report"]

SUMMARY_KEYS: tuple[str, ...] = (
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
METHOD_NAMES: tuple[str, ...] = ("finece", "hybrid", *BASELINE_NAMES)
"""``finece`` is FineCE's outcome-level estimate, ``hybrid`` FineCE and logprob signals combined
(:mod:`guardrail.lab.evaluation.hybrid`, cross-fitted); the others are the baselines."""


# Bootstrap intervals of every CI metric for the headline tables (methods on all answers, FineCE
# at the main positions); ECE's alone elsewhere, which is cheap (the ranking metrics dominate the
# cost of a resample through scikit-learn).
_MAIN_POSITIONS = ("question", "p1", "pz1", "process", "outcome")
_ECE_CI = ("ece_15",)


def _table(
    conf: Sequence[float], labels: Sequence[bool], config: EvalConfig, ci: Sequence[str]
) -> dict[str, Any]:
    return metric_table(
        conf, labels, n_bootstrap=config.n_bootstrap, seed=config.seed, ci_metrics=ci
    )


def _values(
    records: Sequence[AnswerRecord], method: str, hybrid: Sequence[float | None]
) -> list[float | None]:
    if method == "finece":
        return [r.positions.outcome for r in records]
    if method == "hybrid":
        return list(hybrid)
    return [r.baselines.get(method) for r in records]


def _pairs(
    values: Sequence[float | None], records: Sequence[AnswerRecord], split: str | None = None
) -> tuple[list[float], list[bool]]:
    conf, labels = [], []
    for value, record in zip(values, records, strict=True):
        if value is not None and (split is None or record.split == split):
            conf.append(value)
            labels.append(record.answer.correct)
    return conf, labels


def _calibrated(
    values: Sequence[float | None], records: Sequence[AnswerRecord], config: EvalConfig
) -> dict[str, Any]:
    dev = _pairs(values, records, "dev")
    test = _pairs(values, records, "test")
    result: dict[str, Any] = {"raw": _table(*test, config, _ECE_CI)}
    reason = unfit_reason(*dev)
    for kind in CALIBRATION_KINDS:
        if reason is not None:
            result[kind] = {"status": "skipped", "reason": reason}
            continue
        mapped: Any = fit_calibration(kind, *dev).apply(test[0]) if test[0] else []
        result[kind] = _table(mapped, test[1], config, _ECE_CI)
    return result


def _method(
    name: str,
    records: Sequence[AnswerRecord],
    config: EvalConfig,
    skipped: Mapping[str, str],
    hybrid: Sequence[float | None],
) -> dict[str, Any]:
    if name in skipped:
        return {"status": "skipped", "reason": skipped[name]}
    values = _values(records, name, hybrid)
    raw = _table(*_pairs(values, records), config, CI_METRICS)
    flags = ["auroc_below_0_5"] if raw["auroc"] < 0.5 else []
    return {
        "status": "ok",
        "raw": raw,
        "test": _calibrated(values, records, config),
        "missing": sum(1 for v in values if v is None),
        "flags": flags,
    }


def _positions(records: Sequence[AnswerRecord], config: EvalConfig) -> dict[str, Any]:
    traces = [r.positions for r in records]
    samples = position_samples(traces, [r.answer.correct for r in records])
    section: dict[str, Any] = {
        key: _table(conf, labels, config, CI_METRICS if key in _MAIN_POSITIONS else _ECE_CI)
        for key, (conf, labels) in samples.items()
    }
    section["p1_token_share"] = _mean([t.p1_token_share for t in traces])
    section["paragraphs_per_answer"] = _mean([len(t.process) + 1 for t in traces])
    return section


def _strategies(records: Sequence[AnswerRecord], config: EvalConfig) -> dict[str, Any]:
    section: dict[str, Any] = {}
    correct = [r.answer.correct for r in records]
    for name in config.strategies:
        traces = [r.strategies[name] for r in records]
        first = [
            (t.confidences[0], ok) for t, ok in zip(traces, correct, strict=True) if t.confidences
        ]
        pooled = [(c, ok) for t, ok in zip(traces, correct, strict=True) for c in t.confidences]
        section[name] = {
            "first_estimate": _table(
                [c for c, _ in first], [ok for _, ok in first], config, _ECE_CI
            ),
            "all_estimates": _table(
                [c for c, _ in pooled], [ok for _, ok in pooled], config, _ECE_CI
            ),
            "tokens_before_first_share": _mean([t.first_token_share for t in traces]),
            "estimates_per_answer": _mean([len(t.confidences) for t in traces]),
            "answers_without_estimate": sum(1 for t in traces if not t.confidences),
        }
    return section


def _low_auroc_paths(node: Any, path: str = "") -> list[str]:
    """Dotted paths of every metric table in ``node`` whose AUROC is below 0.5."""
    found: list[str] = []
    if isinstance(node, Mapping):
        auroc = node.get("auroc")
        if isinstance(auroc, float) and auroc < 0.5:
            found.append(path)
        for key, child in node.items():
            found += _low_auroc_paths(child, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _low_auroc_paths(child, f"{path}[{index}]")
    return found


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def _answers(records: Sequence[AnswerRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        reference = r.answer.reference
        rows.append(
            {
                "id": r.answer.item.id,
                "split": r.split,
                "question": r.answer.question,
                "reference": reference if isinstance(reference, str) else list(reference),
                "completion": r.answer.completion,
                "correct": r.answer.correct,
                "tokens": r.positions.tokens,
                "finish_reason": r.answer.finish_reason,
                "finece": {
                    "question": r.positions.question,
                    "p1": r.positions.p1,
                    "pz1": r.positions.pz1,
                    "outcome": r.positions.outcome,
                    "process": [
                        [index, value]
                        for index, value in zip(
                            r.positions.process_tokens, r.positions.process, strict=True
                        )
                    ],
                },
                "baselines": dict(r.baselines),
            }
        )
    return rows


def _baselines_by_auroc(methods: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Baselines with a defined raw AUROC, best first."""
    ranked = [
        {"method": name, "auroc": methods[name]["raw"]["auroc"]}
        for name in BASELINE_NAMES
        if methods[name]["status"] == "ok" and not math.isnan(methods[name]["raw"]["auroc"])
    ]
    return sorted(ranked, key=lambda row: -float(row["auroc"]))


def _summary(report: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    finece = report["methods"]["finece"]["raw"]
    ranked = report["baselines_by_auroc"]
    accepted = next(r for r in report["downstream"]["acceptance"] if r["threshold"] == 0.8)
    summary: dict[str, Any] = {
        "finece_outcome_auroc": finece["auroc"],
        "finece_outcome_ece": finece["ece_15"],
        "finece_outcome_ece_noise_floor": finece["ece_noise_floor"],
        "finece_outcome_ece_within_noise": finece["ece_within_noise"],
        "finece_outcome_confidence_gap": finece["confidence_gap"],
        "finece_outcome_brier": finece["brier"],
        "finece_p1_auroc": report["positions"]["p1"]["auroc"],
        "best_baseline_outcome_auroc": float(ranked[0]["auroc"]) if ranked else math.nan,
        "base_accuracy": report["meta"]["base_accuracy"],
        "accepted_accuracy_at_0_8": accepted["accepted_accuracy"],
        "finece_within_question_auroc": report["within_question"].get("macro_auroc", math.nan),
        "hybrid_outcome_auroc": (
            report["methods"]["hybrid"]["raw"]["auroc"]
            if report["methods"]["hybrid"]["status"] == "ok"
            else math.nan
        ),
    }
    reasons = {
        "finece_outcome_auroc": finece["undefined"].get("auroc"),
        "finece_outcome_ece": finece["undefined"].get("ece_15"),
        "finece_outcome_ece_noise_floor": finece["undefined"].get("ece_noise_floor"),
        "finece_outcome_ece_within_noise": finece["undefined"].get("ece_within_noise"),
        "finece_outcome_confidence_gap": finece["undefined"].get("confidence_gap"),
        "finece_outcome_brier": finece["undefined"].get("brier"),
        "finece_p1_auroc": report["positions"]["p1"]["undefined"].get("auroc"),
        "best_baseline_outcome_auroc": "no baseline has a defined AUROC",
        "base_accuracy": "no answers",
        "accepted_accuracy_at_0_8": accepted.get("reason"),
        "finece_within_question_auroc": report["within_question"].get("undefined")
        or report["within_question"].get("skipped"),
        "hybrid_outcome_auroc": report["hybrid"].get("skipped"),
    }
    undefined = {
        key: str(reasons[key] or "undefined")
        for key, value in summary.items()
        if value is None or (isinstance(value, float) and math.isnan(value))
    }
    return summary, undefined


def build_report(
    records: Sequence[AnswerRecord],
    futures: Mapping[int, Sequence[Futures]],
    config: EvalConfig,
    info: Mapping[str, Any],
    skipped: Mapping[str, str],
    groups: Sequence[AnswerGroup] | None = None,
) -> dict[str, Any]:
    """The whole report for ``records`` (see the module docstring for the layout).

    ``groups`` (the generator's greedy and sampled answers per question, scored) adds the
    within-question ranking (:mod:`guardrail.lab.evaluation.within`).
    """
    correct = [r.answer.correct for r in records]
    traces = [r.positions for r in records]
    thresholds = sorted({*config.thresholds, 0.8})
    skipped = dict(skipped)
    try:
        hybrid, hybrid_info = crossfit_hybrid(records)
    except GuardrailConfigError as exc:
        hybrid, hybrid_info = [None] * len(records), {"skipped": str(exc)}
        skipped["hybrid"] = str(exc)
    report: dict[str, Any] = {
        "meta": {
            **info,
            "answers": len(records),
            "dev": sum(1 for r in records if r.split == "dev"),
            "test": sum(1 for r in records if r.split == "test"),
            "base_accuracy": _mean([float(ok) for ok in correct]),
        },
        "config": config.to_dict(),
        "methods": {name: _method(name, records, config, skipped, hybrid) for name in METHOD_NAMES},
        "positions": _positions(records, config),
        "strategies": _strategies(records, config),
        "bci": bci_ablation(traces, correct, config.bci, futures),
        "downstream": {
            "acceptance": acceptance([t.outcome for t in traces], correct, thresholds),
            "early_abort": early_abort(traces, correct, thresholds),
        },
    }
    report["within_question"] = (
        {"skipped": "no sampled answers (self-consistency off or no sampler)"}
        if groups is None
        else within_question_report(groups, n_bootstrap=config.n_bootstrap, seed=config.seed)
    )
    report["hybrid"] = hybrid_info
    report["baselines_by_auroc"] = _baselines_by_auroc(report["methods"])
    report["flags"] = {"auroc_below_0_5": _low_auroc_paths(report)}
    report["answers"] = _answers(records)
    summary, undefined = _summary(report)
    return {"summary": summary, "summary_undefined": undefined, **report}
