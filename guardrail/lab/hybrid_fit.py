"""Fitting a ``hybrid:REF`` combiner for one generator on graded answers of that generator.

The scorer that reads the result is :class:`guardrail.scorers.hybrid.HybridScorer`; this is the
lab's half (it reads graded files and needs scikit-learn), kept out of the runtime.
"""

from __future__ import annotations

import math
import random
from typing import Any

from guardrail.combiner import HYBRID_FEATURES, fit_combiner
from guardrail.errors import GuardrailConfigError
from guardrail.lab.graded import GradedAnswer, GradedFile, Recomputer, auroc, brier
from guardrail.scorers.base import Scorer
from guardrail.scorers.hybrid import HybridCalibration, hybrid_inputs, parse_hybrid_ref
from guardrail.token_signals import DEFAULT_WINDOW

__all__ = ["fit_hybrid"]


def fit_hybrid(
    finece: Scorer,
    ref: str,
    model: str,
    graded: GradedFile,
    *,
    recompute: Recomputer | None = None,
    window: int = DEFAULT_WINDOW,
    source: str = "",
    max_answers: int | None = None,
    seed: int = 0,
    progress: Any = None,
    collect: list[tuple[GradedAnswer, dict[str, float]]] | None = None,
) -> HybridCalibration:
    """Fit ``model``'s combiner for ``hybrid:REF`` on graded answers of that model.

    The answers should be ones the FineCE scorer was not trained on: on its own training
    questions its readout looks better than it is, and the combiner would lean on it.
    ``max_answers`` fits on a seeded sample. Answers without logprobs are recomputed with
    ``recompute`` (else an error says how many lack them); answers with no tokens are skipped.
    ``collect`` receives each fitted answer with its inputs (e.g. to refit leaving a family out).
    """
    parse_hybrid_ref(ref)
    answers = list(graded.answers)
    if max_answers is not None and len(answers) > max_answers:
        answers = random.Random(seed).sample(answers, max_answers)
    missing = sum(a.tokens is None for a in answers)
    if missing and recompute is None:
        raise GuardrailConfigError(
            f"{missing} graded answer(s) have no logprobs: add them (the provider's logprobs) "
            "or name a local generator to recompute them (--generator)"
        )
    questions = sorted({a.question for a in answers})
    if progress is not None:
        progress(0, len(answers))  # the question estimates come first
    estimate = dict(zip(questions, finece.score_batch([(q, "") for q in questions]), strict=True))
    rows: list[dict[str, float]] = []
    labels: list[bool] = []
    skipped = 0
    for start in range(0, len(answers), 64):
        chunk = answers[start : start + 64]
        current = finece.score_batch([(a.question, a.answer) for a in chunk])
        for answer, value in zip(chunk, current, strict=True):
            tokens = answer.tokens
            if tokens is None:
                assert recompute is not None
                tokens = tuple(recompute(answer.messages, answer.answer))
            values = hybrid_inputs(estimate[answer.question], value, tokens, window)
            if values is None:
                skipped += 1
                continue
            rows.append(values)
            labels.append(answer.correct)
            if collect is not None:
                collect.append((answer, values))
        if progress is not None:
            progress(min(start + 64, len(answers)), len(answers))
    if len(set(labels)) < 2:
        raise GuardrailConfigError(
            f"a combiner needs right and wrong answers; got {labels.count(True)} right and "
            f"{labels.count(False)} wrong of {len(labels)} scored"
        )
    combiner = fit_combiner(rows, labels, HYBRID_FEATURES)
    combined = [combiner.predict(row) for row in rows]
    fit: dict[str, Any] = {
        "answers": len(rows),
        "questions": len({a.question for a in answers}),
        "correct": labels.count(True),
        "base_rate": labels.count(True) / len(labels),
        "skipped_empty": skipped,
        "recomputed": missing,
        "brier": brier(combined, labels),
        "auroc": auroc(combined, labels),
        "auroc_by_feature": {
            name: auroc([row[name] for row in rows], labels) for name in HYBRID_FEATURES
        },
        "in_sample": True,  # figures on the answers the combiner was fitted on
    }
    if not all(math.isfinite(v) for v in combined):
        raise GuardrailConfigError("the fitted combiner gives non-finite estimates")
    return HybridCalibration(ref, model, window, combiner, fit, source)
