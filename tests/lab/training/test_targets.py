import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.lab.training.targets import expected_readout, soft_targets


@given(st.floats(0.0, 1.0))
def test_readout_of_soft_targets_is_the_label(label: float) -> None:
    p_one, tenths = soft_targets(label)
    assert 0.0 <= p_one <= 1.0
    assert sum(tenths) == pytest.approx(1.0)
    assert all(p >= 0.0 for p in tenths)
    assert expected_readout(p_one, tenths) == pytest.approx(label, abs=1e-9)


@pytest.mark.parametrize(
    ("label", "p_one", "hot"),
    [(0.0, 0.0, 0), (0.3, 0.0, 3), (0.9, 0.0, 9), (1.0, 1.0, 9)],
)
def test_multiples_of_a_tenth_are_hard_targets(label: float, p_one: float, hot: int) -> None:
    got_one, tenths = soft_targets(label)
    assert got_one == pytest.approx(p_one)
    assert tenths[hot] == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [-0.1, 1.1, float("nan"), float("inf")])
def test_labels_outside_unit_interval_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="label"):
        soft_targets(bad)
