"""What confidence buys downstream: filtering answers, and aborting doomed generations early.

* :func:`acceptance`: answers whose confidence is at least a threshold are accepted; their
  accuracy against the accuracy of all answers (FINECE.md: filtering at >= 0.8).
* :func:`early_abort`: the generation is stopped at the first estimate (the question or a
  paragraph end; never the outcome, which comes after the last token) below a threshold. Per
  threshold: tokens saved on the wrong answers it stops, against the correct answers it loses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from guardrail.lab.evaluation.positions import PositionTrace

__all__ = ["DEFAULT_THRESHOLDS", "acceptance", "early_abort"]

DEFAULT_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def acceptance(
    confidences: Sequence[float],
    correct: Sequence[bool],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> list[dict[str, Any]]:
    """Per threshold: accepted answers, coverage, their accuracy and the gain over all answers.

    With nothing accepted, ``accepted_accuracy`` and ``gain`` are NaN (``reason`` says so).
    """
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    base = _share(sum(correct), len(correct))
    rows = []
    for threshold in thresholds:
        kept = [ok for conf, ok in zip(confidences, correct, strict=True) if conf >= threshold]
        accuracy = _share(sum(kept), len(kept))
        row: dict[str, Any] = {
            "threshold": threshold,
            "accepted": len(kept),
            "coverage": _share(len(kept), len(correct)),
            "accepted_accuracy": accuracy,
            "base_accuracy": base,
            "gain": accuracy - base,
        }
        if not kept:
            row["reason"] = f"no answer has confidence >= {threshold}"
        rows.append(row)
    return rows


def _abort_point(trace: PositionTrace, threshold: float) -> int | None:
    """Tokens generated when the first estimate falls below ``threshold`` (None: never)."""
    if trace.question < threshold:
        return 0
    for value, index in zip(trace.process, trace.process_tokens, strict=True):
        if value < threshold:
            return index
    return None


def early_abort(
    traces: Sequence[PositionTrace],
    correct: Sequence[bool],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> list[dict[str, Any]]:
    """Per threshold: wrong answers stopped and their tokens saved; correct answers lost."""
    if len(traces) != len(correct):
        raise ValueError("traces and correct differ in length")
    wrong_tokens = sum(t.tokens for t, ok in zip(traces, correct, strict=True) if not ok)
    n_wrong = sum(1 for ok in correct if not ok)
    n_correct = len(correct) - n_wrong
    rows = []
    for threshold in thresholds:
        stopped_wrong = saved_wrong = lost = saved_all = 0
        for trace, ok in zip(traces, correct, strict=True):
            point = _abort_point(trace, threshold)
            if point is None:
                continue
            saved = trace.tokens - point
            saved_all += saved
            if ok:
                lost += 1
            else:
                stopped_wrong += 1
                saved_wrong += saved
        rows.append(
            {
                "threshold": threshold,
                "wrong_stopped": stopped_wrong,
                "wrong_stopped_share": _share(stopped_wrong, n_wrong),
                "wrong_tokens_saved": saved_wrong,
                "wrong_tokens_saved_share": _share(saved_wrong, wrong_tokens),
                "correct_lost": lost,
                "correct_lost_share": _share(lost, n_correct),
                "tokens_saved": saved_all,
            }
        )
    return rows
