"""``guardrail adapt``: the best guard the measurements support for a generator and its questions.

The user's questions are split by question into fit, dev and test (:mod:`.split`); the
generator's answers and Monte Carlo labels are built on fit and dev; every candidate
(:mod:`.candidates`) is fitted on fit, measured on the same answers, chosen on dev by a stated
rule and reported on the untouched test split (:mod:`.compare`, :mod:`.measure`).
"""

from __future__ import annotations

from guardrail.lab.adapt.candidates import CANDIDATES, CandidateSpec, FittedCandidate
from guardrail.lab.adapt.compare import Comparison, best_free_signal, compare
from guardrail.lab.adapt.measure import RULE, choose, suggest_threshold
from guardrail.lab.adapt.rows import Row
from guardrail.lab.adapt.split import Split, min_questions, split_questions

__all__ = [
    "CANDIDATES",
    "RULE",
    "CandidateSpec",
    "Comparison",
    "FittedCandidate",
    "Row",
    "Split",
    "best_free_signal",
    "choose",
    "compare",
    "min_questions",
    "split_questions",
    "suggest_threshold",
]
