"""Candidates of ``guardrail adapt``: fitted per stage, chosen by the stated rule, thresholds."""

from __future__ import annotations

import random

import pytest

from guardrail.lab.adapt.candidates import CANDIDATES, fit_candidates
from guardrail.lab.adapt.compare import compare
from guardrail.lab.adapt.measure import RULE, TIE_MARGIN, choose, suggest_threshold
from guardrail.lab.adapt.rows import Row


def _rows(n: int, seed: int, group: str) -> list[Row]:
    """Questions with a right/wrong answer each; mean_entropy informative, min_window noise."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        question = f"{group} question {i}"
        chance = rng.random()
        rows.append(Row(question, "question", chance, {"finece_question": chance}, group))
        for j in range(3):
            ok = rng.random() < chance
            features = {
                "finece_question": chance,
                "finece_outcome": min(0.99, max(0.01, chance + rng.gauss(0, 0.2))),
                "mean_logprob": min(0.99, max(0.01, (0.7 if ok else 0.4) + rng.gauss(0, 0.15))),
                "mean_entropy": min(0.99, max(0.01, (0.8 if ok else 0.3) + rng.gauss(0, 0.1))),
                "min_window": rng.random(),
            }
            rows.append(Row(question, "outcome", float(ok), features, group, f"a{j}"))
            rows.append(Row(question, "process", chance, features, group, f"a{j}"[:1]))
    return rows


def test_every_candidate_with_its_features_is_fitted_the_rest_say_why() -> None:
    fitted, skipped = fit_candidates(_rows(30, 0, "fit"))
    names = {c.name for c in fitted}
    assert {"logprob:mean_entropy", "finece", "hybrid"} <= names
    assert "finetuned" in skipped["finetune"]
    assert "agreement" in skipped["agreement-hybrid"]
    signal = next(c for c in fitted if c.name == "logprob:mean_entropy")
    assert {"pooled", "process", "outcome", "question"} <= set(signal.maps)
    assert signal.maps["question"].coef == 0.0  # no token yet: the fit's rate


def test_compare_measures_every_candidate_on_the_same_test_answers() -> None:
    result = compare(_rows(30, 0, "fit"), _rows(15, 1, "dev"), _rows(15, 2, "test"), n_bootstrap=50)
    answers = {figures["answers"] for figures in result.test.values()}
    assert answers == {45}
    assert result.choice == "logprob:mean_entropy"  # the informative signal, and the simplest
    assert result.best_free["signal"] == "mean_entropy"
    lo, hi = result.test[result.choice]["auroc_ci"]
    assert lo <= result.test[result.choice]["auroc"] <= hi
    assert result.to_dict()["rule"] == RULE


def test_a_tie_goes_to_the_simpler_candidate() -> None:
    dev = {
        "hybrid": {"answers": 10, "auroc": 0.80, "brier": 0.15},
        "logprob:mean_logprob": {"answers": 10, "auroc": 0.80 - TIE_MARGIN / 2, "brier": 0.2},
        "agreement-hybrid": {"answers": 10, "auroc": 0.95, "brier": 0.1},
    }
    deployable = {"hybrid": True, "logprob:mean_logprob": True, "agreement-hybrid": False}
    name, why = choose(dev, deployable)
    assert name == "logprob:mean_logprob"
    assert "simpler" in why
    dev["hybrid"]["auroc"] = 0.80 + 2 * TIE_MARGIN
    assert choose(dev, deployable)[0] == "hybrid"


def test_without_an_auroc_the_lowest_brier_wins() -> None:
    dev = {
        "hybrid": {"answers": 5, "auroc": float("nan"), "brier": 0.1},
        "finece": {"answers": 5, "auroc": float("nan"), "brier": 0.2},
    }
    assert choose(dev, {"hybrid": True, "finece": True})[0] == "hybrid"


@pytest.mark.parametrize("target", [0.75, 0.9])
def test_the_threshold_is_the_lowest_confidence_whose_accepted_answers_reach_the_target(
    target: float,
) -> None:
    values = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    correct = [True, True, True, False, True, False, False]
    found = suggest_threshold(values, correct, target)
    accepted = [ok for v, ok in zip(values, correct, strict=True) if v >= found["threshold"]]
    assert sum(accepted) / len(accepted) >= target
    lower = [ok for v, ok in zip(values, correct, strict=True) if v < found["threshold"]]
    assert lower  # something was left out
    assert found["coverage"] == len(accepted) / len(values)


def test_no_threshold_reaching_the_target_says_what_was_reached() -> None:
    found = suggest_threshold([0.9, 0.8], [False, True], 0.99)
    assert found["threshold"] is None
    assert found["best_accuracy"] == 0.5


def test_candidate_names_are_unique() -> None:
    assert len({spec.name for spec in CANDIDATES}) == len(CANDIDATES)
