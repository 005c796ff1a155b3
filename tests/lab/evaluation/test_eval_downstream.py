"""Acceptance, early abort, position bookkeeping and the BCI grid on hand-made traces."""

from __future__ import annotations

import math

import pytest

from guardrail.bci import integrate, integrate_paths
from guardrail.errors import GuardrailConfigError
from guardrail.lab.evaluation.ablation import BCIGrid, bci_ablation
from guardrail.lab.evaluation.downstream import acceptance, early_abort
from guardrail.lab.evaluation.positions import (
    PositionTrace,
    StrategyTrace,
    position_samples,
    relative_bucket,
    strategy_settings,
)

# tokens: 100 each; estimates at the question, after 20 and 60 tokens, and the outcome
GOOD = PositionTrace(0.8, (0.85, 0.9), (20, 60), 0.95, 100)
BAD = PositionTrace(0.6, (0.4, 0.2), (20, 60), 0.1, 100)
SHORT = PositionTrace(0.5, (), (), 0.7, 10)


def test_trace_positions() -> None:
    assert (GOOD.p1, GOOD.pz1) == (0.85, 0.9)
    assert (SHORT.p1, SHORT.pz1) == (0.7, 0.5)  # one paragraph: p1 = outcome, pz1 = question
    assert GOOD.p1_token_share == 0.2
    assert SHORT.p1_token_share == 1.0
    assert GOOD.chain == (0.8, 0.85, 0.9, 0.95)
    assert GOOD.with_chain([0.1, 0.2, 0.3, 0.4]).process == (0.2, 0.3)
    with pytest.raises(ValueError, match="expected 4 values"):
        GOOD.with_chain([0.1])


def test_strategy_trace_share() -> None:
    assert StrategyTrace((0.5,), (30,), 100).first_token_share == 0.3
    assert StrategyTrace((), (), 100).first_token_share == 1.0


@pytest.mark.parametrize(
    ("index", "bucket"), [(0, "0-25"), (24, "0-25"), (25, "25-50"), (74, "50-75"), (100, "75-100")]
)
def test_relative_bucket(index: int, bucket: str) -> None:
    assert relative_bucket(index, 100) == bucket


def test_position_samples_pool_process_estimates_with_their_outcome() -> None:
    samples = position_samples([GOOD, BAD, SHORT], [True, False, True])
    assert samples["process"] == ([0.85, 0.9, 0.4, 0.2], [True, True, False, False])
    assert samples["0-25"] == ([0.85, 0.4], [True, False])
    assert samples["50-75"] == ([0.9, 0.2], [True, False])
    assert samples["p1"][0] == [0.85, 0.4, 0.7]
    assert samples["25-50"] == ([], [])


def test_strategy_settings_registry() -> None:
    settings = strategy_settings("periodic", periodic_every=50)
    assert settings.strategies[0].every == 50  # type: ignore[union-attr]
    assert not settings.score_question
    assert not settings.score_outcome
    with pytest.raises(GuardrailConfigError, match="paragraph, periodic, entropy"):
        strategy_settings("random")


def test_acceptance_rows() -> None:
    rows = acceptance([0.95, 0.85, 0.5, 0.9], [True, True, False, False], [0.8, 0.99])
    at_08, at_99 = rows
    assert at_08["accepted"] == 3
    assert at_08["coverage"] == 0.75
    assert at_08["accepted_accuracy"] == pytest.approx(2 / 3)
    assert at_08["gain"] == pytest.approx(2 / 3 - 0.5)
    assert at_99["accepted"] == 0
    assert math.isnan(at_99["accepted_accuracy"])
    assert "no answer" in at_99["reason"]


def test_early_abort_counts_saved_tokens_and_lost_answers() -> None:
    rows = early_abort([GOOD, BAD], [True, False], [0.5, 0.7, 0.86])
    low, mid, high = rows
    # 0.5: BAD stops after 20 tokens (0.4 < 0.5); GOOD never stops
    assert (low["wrong_stopped"], low["wrong_tokens_saved"], low["correct_lost"]) == (1, 80, 0)
    assert low["wrong_tokens_saved_share"] == 0.8
    # 0.7: BAD stops at the question (0.6 < 0.7): all its tokens are saved
    assert mid["wrong_tokens_saved"] == 100
    assert mid["correct_lost"] == 0
    # 0.86: GOOD stops at the question (0.8) too: a correct answer lost
    assert high["correct_lost"] == 1
    assert high["correct_lost_share"] == 1.0
    assert high["tokens_saved"] == 200
    # the outcome estimate never aborts: it comes after the last token
    assert (
        early_abort([PositionTrace(0.9, (), (), 0.0, 10)], [False], [0.5])[0]["wrong_stopped"] == 0
    )


def test_bci_ablation_matches_integrate() -> None:
    grid = BCIGrid(alphas=(0.5,), depths=(0, 2), widths=(0,))
    rows = bci_ablation([GOOD, BAD], [True, False], grid)
    assert [(r["alpha"], r["depth"]) for r in rows] == [(0.5, 0), (0.5, 2)]
    revised_good = integrate(GOOD.chain, 0.5, 2)
    revised_bad = integrate(BAD.chain, 0.5, 2)
    from guardrail.lab.evaluation.metrics import ece

    expected = ece([revised_good[1], revised_bad[1]], [True, False])
    assert rows[1]["positions"]["p1"]["ece_15"] == pytest.approx(expected)
    assert rows[0]["positions"]["p1"]["ece_15"] == pytest.approx(ece([0.85, 0.4], [True, False]))


def test_bci_ablation_with_futures_and_skipped_widths() -> None:
    grid = BCIGrid(alphas=(0.5,), depths=(1,), widths=(0, 2, 4))
    futures = {2: [[(0.1, 0.1), (0.1, 0.1), (0.1, 0.1), ()], [(0.9, 0.9)] * 3 + [()]]}
    rows = bci_ablation([GOOD, BAD], [True, False], grid, futures)
    assert [r["width"] for r in rows] == [0, 2, 4]
    assert rows[2]["status"] == "skipped"
    assert "no future sampler" in rows[2]["reason"]
    revised = integrate_paths(GOOD.chain, futures[2][0], 0.5, 1)
    revised_bad = integrate_paths(BAD.chain, futures[2][1], 0.5, 1)
    from guardrail.lab.evaluation.metrics import brier

    expected = brier([revised[1], revised_bad[1]], [True, False])
    assert rows[1]["positions"]["p1"]["brier"] == pytest.approx(expected)


def test_bci_grid_is_validated() -> None:
    with pytest.raises(GuardrailConfigError, match=r"alpha 1\.5"):
        BCIGrid(alphas=(1.5,))
    with pytest.raises(GuardrailConfigError, match="at least one"):
        BCIGrid(widths=())
