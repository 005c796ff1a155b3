"""The hybrid method: a logistic combiner of FineCE and logprob signals, cross-fitted."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.combiner import LogisticCombiner, fit_combiner
from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.answers import GeneratedAnswer
from guardrail.lab.evaluation.hybrid import HYBRID_FEATURES, crossfit_hybrid, hybrid_features
from guardrail.lab.evaluation.metrics import auroc
from guardrail.lab.evaluation.positions import PositionTrace
from guardrail.lab.evaluation.records import AnswerRecord
from guardrail.lab.tasks.base import TaskItem


def _record(
    index: int, correct: bool, finece: float, logprob: float | None, split: str
) -> AnswerRecord:
    item = TaskItem(id=f"q{index}", question=f"question {index}", reference="1")
    answer = GeneratedAnswer(item, "1", (), correct, "stop")
    trace = PositionTrace(question=0.5, process=(), process_tokens=(), outcome=finece, tokens=1)
    baselines = {"mean_logprob": logprob, "min_window": logprob, "mean_entropy": logprob}
    return AnswerRecord(answer, trace, {}, baselines, split)  # type: ignore[arg-type]


def _records(n: int, seed: int, *, finece_informative: bool) -> list[AnswerRecord]:
    """Answers where only one of the two signals tells right from wrong."""
    rng = random.Random(seed)
    records = []
    for index in range(n):
        correct = rng.random() < 0.5
        signal = min(0.95, max(0.05, (0.7 if correct else 0.3) + rng.gauss(0, 0.1)))
        noise = rng.uniform(0.05, 0.95)
        finece, logprob = (signal, noise) if finece_informative else (noise, signal)
        records.append(_record(index, correct, finece, logprob, "dev" if index % 2 else "test"))
    return records


@pytest.mark.parametrize("finece_informative", [True, False])
def test_hybrid_follows_whichever_signal_carries_information(finece_informative: bool) -> None:
    records = _records(200, seed=3, finece_informative=finece_informative)
    values, info = crossfit_hybrid(records)
    labels = [r.answer.correct for r in records]
    assert all(v is not None for v in values)
    hybrid = auroc([float(v) for v in values if v is not None], labels)
    finece = auroc([r.positions.outcome for r in records], labels)
    logprob = auroc([float(r.baselines["mean_logprob"] or 0) for r in records], labels)
    assert hybrid >= max(finece, logprob) - 0.03
    assert set(info["folds"]) == {"fitted_on_dev", "fitted_on_test"}


def test_each_half_is_scored_by_the_combiner_fitted_on_the_other() -> None:
    records = _records(60, seed=1, finece_informative=True)
    values, info = crossfit_hybrid(records)
    on_dev = LogisticCombiner.from_dict(info["folds"]["fitted_on_dev"])
    on_test = LogisticCombiner.from_dict(info["folds"]["fitted_on_test"])
    for record, value in zip(records, values, strict=True):
        features = hybrid_features(record)
        assert features is not None
        expected = (on_dev if record.split == "test" else on_test).predict(features)
        assert value == pytest.approx(expected)


def test_answers_without_logprobs_get_no_hybrid_value() -> None:
    records = _records(40, seed=2, finece_informative=True)
    records[0] = _record(0, True, 0.9, None, records[0].split)
    values, _ = crossfit_hybrid(records)
    assert values[0] is None
    assert sum(v is None for v in values) == 1


def test_a_half_with_one_class_names_the_reason() -> None:
    records = [_record(i, True, 0.8, 0.7, "dev" if i % 2 else "test") for i in range(10)]
    with pytest.raises(GuardrailConfigError, match="needs right and wrong"):
        crossfit_hybrid(records)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.01, 0.99), min_size=len(HYBRID_FEATURES), max_size=5))
def test_combiner_round_trips_and_outputs_probabilities(values: list[float]) -> None:
    rng = random.Random(0)
    rows = [{name: rng.uniform(0.01, 0.99) for name in HYBRID_FEATURES} for _ in range(30)]
    labels = [i % 3 == 0 for i in range(30)]
    combiner = fit_combiner(rows, labels, HYBRID_FEATURES)
    assert LogisticCombiner.from_dict(combiner.to_dict()) == combiner
    point = dict(zip(HYBRID_FEATURES, values, strict=True))
    assert 0.0 <= combiner.predict(point) <= 1.0


def test_combiner_errors_name_the_problem() -> None:
    with pytest.raises(GuardrailConfigError, match="missing field 'coef'"):
        LogisticCombiner.from_dict({"kind": "logistic", "features": ["a"]}, where="hybrid.json")
    combiner = LogisticCombiner(("a", "b"), (1.0, 1.0), (0.0, 0.0), (1.0, 1.0), 0.0)
    with pytest.raises(GuardrailConfigError, match="lacks b"):
        combiner.predict({"a": 0.5})
    with pytest.raises(GuardrailConfigError, match="both right and wrong"):
        fit_combiner([{"a": 0.5}], [True], ["a"])
