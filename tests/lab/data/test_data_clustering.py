"""Paragraph truncation and agglomerative clustering of partial answers."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.lab.data import cluster_texts, paragraph_cuts, truncate_at_paragraph


@pytest.mark.parametrize(
    ("answer", "cuts"),
    [
        ("one line only", []),
        ("a\nb", [2]),
        ("a\nb\n", [2]),  # the last newline leaves nothing after it
        ("a\n\nb\nc", [2, 5]),  # a blank line is not a paragraph end
        ("\n\na\nb", [4]),
        ("step 1.\nstep 2.\nThe answer is 3.", [8, 16]),
    ],
)
def test_paragraph_cuts(answer: str, cuts: list[int]) -> None:
    assert paragraph_cuts(answer) == cuts


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet="ab \n", max_size=40), st.integers(0, 10**6))
def test_truncation_is_a_strict_prefix_ending_a_line(answer: str, seed: int) -> None:
    partial = truncate_at_paragraph(answer, random.Random(seed))
    if partial is None:
        assert paragraph_cuts(answer) == []
        return
    assert answer.startswith(partial)
    assert partial.endswith("\n")
    assert partial.strip()
    assert answer[len(partial) :].strip()


def test_similar_texts_cluster_together_and_medoid_is_a_member() -> None:
    texts = [
        "Tom starts with 4 coins.\n",
        "Tom starts with 4 coins.\n",
        "Tom starts with four coins.\n",
        "Twice as many is 4 * 2 = 8.\n",
        "Twice as many is 4 * 2 = 8 coins.\n",
        "Bananas are yellow.\n",
    ]
    clusters = cluster_texts(texts, threshold=0.5)
    groups = sorted(sorted(c.members) for c in clusters)
    assert groups == [[0, 1, 2], [3, 4], [5]]
    assert [len(c.members) for c in clusters] == [3, 2, 1]  # biggest first
    assert clusters[0].representative in (0, 1)  # the medoid of the three
    for cluster in clusters:
        assert cluster.representative in cluster.members


def test_threshold_extremes() -> None:
    texts = ["alpha beta", "alpha gamma", "delta", "delta"]
    assert len(cluster_texts(texts, threshold=0.0)) == 3  # only identical texts merge
    assert len(cluster_texts(texts, threshold=1.0)) == 1  # cosine distances never exceed 1 here
    assert cluster_texts([], threshold=0.5) == []
    (single,) = cluster_texts(["x"], threshold=0.5)
    assert single.members == (0,)
    assert single.representative == 0


def test_texts_without_words() -> None:
    clusters = cluster_texts(["...\n", "!!\n", "3 + 4\n"], threshold=0.5)
    assert sorted(len(c.members) for c in clusters) in ([1, 1, 1], [1, 2])
    assert len(cluster_texts(["...", "!!"], threshold=0.5)) == 1


@settings(deadline=None, max_examples=50)
@given(st.lists(st.text(alphabet="ab c1\n", max_size=12), min_size=1, max_size=8), st.floats(0, 2))
def test_clusters_partition_the_texts(texts: list[str], threshold: float) -> None:
    clusters = cluster_texts(texts, threshold)
    members = sorted(i for c in clusters for i in c.members)
    assert members == list(range(len(texts)))
