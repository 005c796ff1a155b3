"""Backward Confidence Integration: hand examples and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.bci import BCINode, integrate, integrate_paths, integrate_tree

FAST = settings(deadline=None, max_examples=200)

confidences_st = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12)
alpha_st = st.floats(0.0, 1.0)
depth_st = st.integers(0, 6)


def reference(confidences: list[float], alpha: float, depth: int) -> list[float]:
    """Straight from FINECE.md, recursion on (position, remaining depth)."""
    last = len(confidences) - 1

    def revised(j: int, d: int) -> float:
        if d == 0 or j == last:
            return confidences[j]
        return alpha * confidences[j] + (1 - alpha) * revised(j + 1, d - 1)

    return [revised(j, depth) for j in range(len(confidences))]


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b, strict=True)
    )


# ------------------------------------------------------------------------ by hand
@pytest.mark.parametrize(
    ("confidences", "alpha", "depth", "expected"),
    [
        ([0.2, 0.6, 1.0], 0.5, 1, [0.4, 0.8, 1.0]),
        ([0.2, 0.6, 1.0], 0.5, 2, [0.5, 0.8, 1.0]),
        ([0.2, 0.6, 1.0], 0.5, 9, [0.5, 0.8, 1.0]),  # depth beyond the path is the full fold
        ([0.2, 0.6, 1.0], 0.0, 1, [0.6, 1.0, 1.0]),  # alpha 0: the next state's value
        ([0.2, 0.6, 1.0], 0.0, 2, [1.0, 1.0, 1.0]),
        ([0.3, 0.9], 0.25, 1, [0.75, 0.9]),
        ([0.7], 0.5, 3, [0.7]),
        ([], 0.5, 2, []),
    ],
)
def test_integrate_by_hand(
    confidences: list[float], alpha: float, depth: int, expected: list[float]
) -> None:
    assert integrate(confidences, alpha, depth) == pytest.approx(expected)


def test_futures_average_with_the_observed_path() -> None:
    # state 0: observed next 0.6 and one sampled 1.0 -> mean 0.8; 0.5*0.2 + 0.5*0.8 = 0.5
    assert integrate_paths([0.2, 0.6], [[1.0], []], 0.5, 1) == pytest.approx([0.5, 0.6])
    # the latest state has only sampled futures: 0.5*0.4 + 0.5*mean(0.8, 0.0) = 0.4
    assert integrate_paths([0.4], [[0.8, 0.0]], 0.5, 1) == pytest.approx([0.4])
    assert integrate_paths([0.4], [[1.0, 1.0]], 0.5, 1) == pytest.approx([0.7])
    # depth 2: sampled futures are leaves, the observed next state is itself revised
    # s1 = 0.5*0.6 + 0.5*1.0 = 0.8 (its sample); s0 = 0.5*0.2 + 0.5*mean(0.8, 0.0) = 0.3
    assert integrate_paths([0.2, 0.6], [[0.0], [1.0]], 0.5, 2) == pytest.approx([0.3, 0.8])


def test_tree_by_hand() -> None:
    leaf = BCINode
    root = BCINode(0.2, (BCINode(0.6, (leaf(1.0), leaf(0.0))), leaf(0.4)))
    # child 0.6 -> 0.5*0.6 + 0.5*0.5 = 0.55; root = 0.5*0.2 + 0.5*mean(0.55, 0.4) = 0.3375
    assert integrate_tree(root, 0.5, 2) == pytest.approx(0.3375)
    # depth 1: children count raw: 0.5*0.2 + 0.5*mean(0.6, 0.4) = 0.35
    assert integrate_tree(root, 0.5, 1) == pytest.approx(0.35)
    assert integrate_tree(root, 0.5, 0) == 0.2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: integrate([0.5], 1.5, 1), "alpha"),
        (lambda: integrate([0.5], float("nan"), 1), "alpha"),
        (lambda: integrate([0.5], 0.5, -1), "depth"),
        (lambda: integrate([float("nan")], 0.5, 1), "finite"),
        (lambda: integrate_paths([0.5, 0.5], [[]], 0.5, 1), "one entry per state"),
        (lambda: integrate_tree(BCINode(0.5, (BCINode(math.inf),)), 0.5, 1), "finite"),
    ],
)
def test_bad_arguments_raise(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------- properties
@FAST
@given(confidences=confidences_st, alpha=alpha_st)
def test_depth_zero_is_identity(confidences: list[float], alpha: float) -> None:
    assert integrate(confidences, alpha, 0) == confidences


@FAST
@given(confidences=confidences_st, depth=depth_st)
def test_alpha_one_is_identity(confidences: list[float], depth: int) -> None:
    assert integrate(confidences, 1.0, depth) == confidences


@FAST
@given(confidences=confidences_st, alpha=alpha_st, depth=depth_st)
def test_within_input_range_and_last_unchanged(
    confidences: list[float], alpha: float, depth: int
) -> None:
    revised = integrate(confidences, alpha, depth)
    assert all(min(confidences) <= value <= max(confidences) for value in revised)
    assert revised[-1] == confidences[-1]


@FAST
@given(confidences=confidences_st, alpha=alpha_st, depth=depth_st)
def test_matches_recursive_reference(confidences: list[float], alpha: float, depth: int) -> None:
    assert close(integrate(confidences, alpha, depth), reference(confidences, alpha, depth))


@FAST
@given(confidences=confidences_st, alpha=alpha_st, depth=depth_st, data=st.data())
def test_streaming_only_last_depth_change(
    confidences: list[float], alpha: float, depth: int, data: st.DataObject
) -> None:
    extra = data.draw(st.floats(0.0, 1.0))
    before = integrate(confidences, alpha, depth)
    after = integrate([*confidences, extra], alpha, depth)
    unchanged = max(0, len(confidences) - depth)
    assert after[:unchanged] == before[:unchanged]


@FAST
@given(
    path=st.lists(
        st.tuples(st.floats(0.0, 1.0), st.lists(st.floats(0.0, 1.0), max_size=3)),
        min_size=1,
        max_size=8,
    ),
    alpha=alpha_st,
    depth=depth_st,
)
def test_paths_match_the_tree_form(
    path: list[tuple[float, list[float]]], alpha: float, depth: int
) -> None:
    confidences = [confidence for confidence, _ in path]
    futures = [sampled for _, sampled in path]
    node: BCINode | None = None
    trees: list[BCINode] = []
    for confidence, sampled in reversed(path):
        children = tuple(BCINode(value) for value in sampled)
        node = BCINode(confidence, children if node is None else (node, *children))
        trees.append(node)
    trees.reverse()
    expected = [integrate_tree(tree, alpha, depth) for tree in trees]
    revised = integrate_paths(confidences, futures, alpha, depth)
    assert close(revised, expected)
    everything = confidences + [value for sampled in futures for value in sampled]
    assert all(min(everything) <= value <= max(everything) for value in revised)


@FAST
@given(confidences=confidences_st, alpha=alpha_st, depth=depth_st)
def test_width_zero_paths_equal_single_path(
    confidences: list[float], alpha: float, depth: int
) -> None:
    empty: list[list[float]] = [[] for _ in confidences]
    assert integrate_paths(confidences, empty, alpha, depth) == integrate(confidences, alpha, depth)
