"""The least confident span of an answer, which self-correction feedback points at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guardrail.events import CheckpointEvent, Stage

__all__ = ["Span", "least_confident_span"]

_TAIL_CHARS = 400


@dataclass(frozen=True, slots=True)
class Span:
    """A slice ``answer[start:end]`` and the checkpoint that scored it (``None``: no checkpoint)."""

    text: str
    start: int
    end: int
    event: CheckpointEvent | None
    drop: float = 0.0


def least_confident_span(answer: str, events: Sequence[CheckpointEvent]) -> Span:
    """The stretch of ``answer`` between two checkpoints that the scorer trusted least.

    Candidates are the process and outcome checkpoints that cover some text
    (``answer[char_start:char_end]``). The one whose revised confidence dropped most from the
    checkpoint before it wins; when confidence never dropped, the one with the lowest revised
    confidence does (the earliest on ties). Without any candidate, the last 400 characters of
    the answer stand in. Surrounding whitespace is trimmed from the returned text.
    """
    ordered = sorted(events, key=lambda event: event.index)
    best: tuple[float, float, CheckpointEvent] | None = None
    previous: CheckpointEvent | None = None
    for event in ordered:
        covers = event.stage is not Stage.QUESTION and event.char_end > event.char_start
        if covers and event.char_start < len(answer):
            drop = 0.0 if previous is None else previous.revised - event.revised
            key = (max(drop, 0.0), -event.revised, event)
            if best is None or (key[0], key[1]) > (best[0], best[1]):
                best = key
        previous = event
    if best is None:
        start = max(0, len(answer) - _TAIL_CHARS)
        return _trimmed(answer, start, len(answer), None, 0.0)
    drop, _, event = best
    return _trimmed(answer, event.char_start, min(event.char_end, len(answer)), event, drop)


def _trimmed(answer: str, start: int, end: int, event: CheckpointEvent | None, drop: float) -> Span:
    text = answer[start:end]
    stripped = text.strip()
    if stripped:
        start += len(text) - len(text.lstrip())
        end = start + len(stripped)
    return Span(stripped, start, end, event, drop)
