"""Paragraph truncation and clustering of partial answers (Algorithm 1, steps 2-3).

Partial answers are embedded with TF-IDF (words; single digits are words too, so
``3 + 4`` and ``3 + 5`` differ) and clustered bottom-up with average linkage on cosine distance
until the closest clusters are farther apart than ``threshold`` (scikit-learn's
``AgglomerativeClustering``). The representative of a cluster is its medoid: the member with the
smallest total cosine distance to the others.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Cluster", "cluster_texts", "paragraph_cuts", "truncate_at_paragraph"]


def paragraph_cuts(answer: str) -> list[int]:
    r"""Offsets just after each ``"\n"`` that closes a non-blank line and leaves text after it.

    Cutting ``answer[:offset]`` at one of these gives a strict partial answer ending at a
    paragraph end, the same places where the paragraph trigger scores at run time.
    """
    cuts = []
    line_start = 0
    for index, char in enumerate(answer):
        if char != "\n":
            continue
        end = index + 1
        if answer[line_start:index].strip() and answer[end:].strip():
            cuts.append(end)
        line_start = end
    return cuts


def truncate_at_paragraph(answer: str, rng: random.Random) -> str | None:
    """A partial answer cut at a paragraph end chosen uniformly by ``rng`` (None if none)."""
    cuts = paragraph_cuts(answer)
    return answer[: rng.choice(cuts)] if cuts else None


@dataclass(frozen=True, slots=True)
class Cluster:
    """Indices (into the clustered texts) of one cluster's members, and of its representative."""

    members: tuple[int, ...]
    representative: int


def cluster_texts(texts: Sequence[str], threshold: float) -> list[Cluster]:
    """Group ``texts`` by cosine distance of their TF-IDF vectors; biggest clusters first.

    ``threshold`` is the average-linkage distance above which clusters stay apart: 0 merges only
    identical vectors, 1 merges everything (TF-IDF vectors are non-negative, so cosine distances
    lie in [0, 1]). Ties in size keep first-seen order.
    """
    if not texts:
        return []
    if len(texts) == 1:
        return [Cluster((0,), 0)]
    distances = _cosine_distances(texts)
    if distances is None:  # no text has a single word: all are "the same" empty answer
        return [Cluster(tuple(range(len(texts))), 0)]
    from guardrail._optional import require

    cluster = require("sklearn.cluster", "lab")
    labels = cluster.AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=max(threshold, 0.0) + 1e-9,  # merge at distance <= threshold
    ).fit_predict(distances)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(index)
    clusters = []
    for members in groups.values():
        sub = distances[members][:, members]
        medoid = members[int(sub.sum(axis=1).argmin())]
        clusters.append(Cluster(tuple(members), medoid))
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


def _cosine_distances(texts: Sequence[str]) -> NDArray[np.float64] | None:
    """Pairwise ``1 - cos`` of TF-IDF vectors; a text without words is at distance 1 of all."""
    import numpy as np

    from guardrail._optional import require

    text = require("sklearn.feature_extraction.text", "lab")
    pairwise = require("sklearn.metrics.pairwise", "lab")

    vectorizer = text.TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 1))
    try:
        vectors = vectorizer.fit_transform(texts)
    except ValueError:  # empty vocabulary
        return None
    distances: NDArray[np.float64] = np.clip(pairwise.cosine_distances(vectors), 0.0, 1.0)
    empty = np.asarray(vectors.getnnz(axis=1) == 0)
    distances[empty, :] = 1.0
    distances[:, empty] = 1.0
    np.fill_diagonal(distances, 0.0)
    return distances
