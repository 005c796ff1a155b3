import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.within import AnswerGroup, pair_counts, within_question_report


def group(conf, ok, qid="q"):
    return AnswerGroup(qid, tuple(conf), tuple(ok))


def test_pairs_count_right_above_wrong_with_half_ties():
    won, pairs = pair_counts(group([0.9, 0.5, 0.5, 0.1], [True, True, False, False]))
    assert pairs == 4
    assert won == 1 + 1 + 0.5 + 1


def test_report_is_macro_over_mixed_questions():
    groups = [
        group([0.9, 0.1], [True, False], "a"),  # 1.0
        group([0.1, 0.9], [True, False], "b"),  # 0.0
        group([0.3, 0.2, 0.1], [True, True, True], "c"),  # no pair
    ]
    report = within_question_report(groups, n_bootstrap=50)
    assert report["questions"] == 3
    assert report["questions_mixed"] == 2
    assert report["macro_auroc"] == pytest.approx(0.5)
    assert report["micro_auroc"] == pytest.approx(0.5)
    lo, hi = report["ci"]["macro_auroc"]
    assert 0.0 <= lo <= hi <= 1.0


def test_no_mixed_question_is_undefined_with_a_reason():
    report = within_question_report([group([0.2], [True])])
    assert math.isnan(report["macro_auroc"])
    assert "both a right and a wrong" in report["undefined"]


def test_bad_groups_say_which_question():
    with pytest.raises(GuardrailConfigError, match="question q7"):
        group([0.2, 0.3], [True], "q7")
    with pytest.raises(GuardrailConfigError, match=r"\[0, 1\]"):
        group([1.2], [True])


answers = st.lists(
    st.tuples(st.integers(0, 100).map(lambda n: n / 100), st.booleans()), min_size=2, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(st.lists(answers, min_size=1, max_size=6))
def test_macro_auroc_bounded_and_flips_under_negation(raw):
    groups = [group([c for c, _ in g], [ok for _, ok in g], str(i)) for i, g in enumerate(raw)]
    report = within_question_report(groups, n_bootstrap=0)
    negated = [
        AnswerGroup(g.question_id, tuple(1 - c for c in g.confidences), g.correct) for g in groups
    ]
    flipped = within_question_report(negated, n_bootstrap=0)
    if report["questions_mixed"] == 0:
        assert math.isnan(report["macro_auroc"])
        return
    assert 0.0 <= report["macro_auroc"] <= 1.0
    assert report["macro_auroc"] + flipped["macro_auroc"] == pytest.approx(1.0)
