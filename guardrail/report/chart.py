"""The confidence-over-tokens chart of one attempt, as inline SVG drawn by hand (no libraries).

Two series over the answer's token index: raw confidence (dashed) and BCI-revised confidence
(solid), a dot per checkpoint, and a marker per policy decision under the axis; decisions other
than ``continue`` also get a dashed rule across the plot, labelled with the action.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from guardrail.events import CheckpointEvent
from guardrail.report.model import ReportAttempt, ReportDecision

__all__ = ["confidence_chart", "confidence_color", "decision_class"]

_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 20, 58, 46
_LABEL_ROWS = (_TOP - 8, _TOP - 21)  # baselines of the two rows of decision labels
_CHAR_WIDTH = 6.4  # of the 11px label font, to keep labels from overlapping


def confidence_color(value: float, lightness: int = 80) -> str:
    """A red (0) - amber (0.5) - green (1) fill for a confidence, as a CSS ``hsl()`` colour."""
    value = min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
    return f"hsl({round(120 * value)}, 75%, {lightness}%)"


def decision_class(decision: ReportDecision) -> str:
    """``go`` (continue), ``flag`` or ``stop`` (any other action): the marker's CSS class."""
    if decision.action == "continue" and decision.failure_mode is None:
        return "go"
    return "flag" if decision.action == "flag" else "stop"


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps token index and confidence to SVG coordinates."""

    width: int
    height: int
    max_token: int

    def x(self, token: float) -> float:
        return _LEFT + (self.width - _LEFT - _RIGHT) * token / self.max_token

    def y(self, confidence: float) -> float:
        return _TOP + (self.height - _TOP - _BOTTOM) * (1.0 - min(max(confidence, 0.0), 1.0))

    @property
    def bottom(self) -> float:
        return self.y(0.0)


def _ticks(maximum: int, count: int = 8) -> list[int]:
    """Round tick values 0..maximum, at most about ``count`` of them."""
    raw = max(maximum / count, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, maximum + 1, int(step)))


def _axes(frame: _Frame) -> list[str]:
    parts: list[str] = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = frame.y(tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{frame.width - _RIGHT}" '
            f'y2="{y:.1f}"/><text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{tick:.2f}</text>'
        )
    for tick in _ticks(frame.max_token):
        x = frame.x(tick)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{frame.bottom + 30:.1f}" '
            f'text-anchor="middle">{tick}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" y1="{frame.bottom:.1f}" x2="{frame.width - _RIGHT}" '
        f'y2="{frame.bottom:.1f}"/>'
        f'<text class="axis-label" x="{frame.width - _RIGHT}" y="{frame.height - 2}" '
        'text-anchor="end">answer tokens</text>'
        f'<text class="axis-label" x="12" y="{frame.y(0.5):.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {frame.y(0.5):.1f})">confidence</text>'
    )
    return parts


def _series(frame: _Frame, events: Sequence[CheckpointEvent]) -> list[str]:
    parts: list[str] = []
    for name, values in (
        ("raw", [e.confidence for e in events]),
        ("rev", [e.revised for e in events]),
    ):
        points = " ".join(
            f"{frame.x(e.token_index):.1f},{frame.y(v):.1f}"
            for e, v in zip(events, values, strict=True)
        )
        if len(events) > 1:
            parts.append(f'<polyline class="line-{name}" points="{points}"/>')
    for event in events:
        x, tip = frame.x(event.token_index), escape(_event_tip(event))
        parts.append(
            f'<circle class="dot-raw" cx="{x:.1f}" cy="{frame.y(event.confidence):.1f}" r="3">'
            f"<title>{tip}</title></circle>"
            f'<circle class="dot-rev" cx="{x:.1f}" cy="{frame.y(event.revised):.1f}" r="5" '
            f'fill="{confidence_color(event.revised, 55)}"><title>{tip}</title></circle>'
        )
    return parts


def _event_tip(event: CheckpointEvent) -> str:
    return (
        f"checkpoint {event.index} ({event.stage.value}, {event.reason}) after "
        f"{event.token_index} tokens: raw {event.confidence:.3f}, revised {event.revised:.3f}"
    )


def _decision_token(decision: ReportDecision, events: Sequence[CheckpointEvent]) -> int:
    if decision.token_index is not None:
        return decision.token_index
    by_index = {event.index: event for event in events}
    event = by_index.get(decision.checkpoint if decision.checkpoint is not None else -1)
    if event is not None:
        return event.token_index
    return events[-1].token_index if events else 0


def _label_row(rows: list[list[tuple[float, float]]], x: float, text: str) -> int | None:
    """The first label row where ``text`` centred on ``x`` overlaps nothing (``None``: full)."""
    half = (len(text) * _CHAR_WIDTH) / 2 + 4
    for number, placed in enumerate(rows):
        if all(x + half < left or x - half > right for left, right in placed):
            placed.append((x - half, x + half))
            return number
    return None


def _decisions(
    frame: _Frame, decisions: Sequence[ReportDecision], events: Sequence[CheckpointEvent]
) -> list[str]:
    parts: list[str] = []
    rows: list[list[tuple[float, float]]] = [[] for _ in _LABEL_ROWS]
    for decision in decisions:
        x = frame.x(_decision_token(decision, events))
        kind = decision_class(decision)
        rule = f", rule {decision.rule}" if decision.rule else ""
        where = "" if decision.checkpoint is None else f" at checkpoint {decision.checkpoint}"
        tip = escape(f"{decision.label}{where}{rule}: " + "; ".join(decision.reasons))
        base = frame.bottom + 3
        parts.append(
            f'<path class="mark-{kind}" d="M{x:.1f} {base:.1f} l-5 9 h10 z">'
            f"<title>{tip}</title></path>"
        )
        if kind == "go":
            continue
        row = _label_row(rows, x, decision.label)
        top = _TOP - 4 if row is None else _LABEL_ROWS[row] + 3
        parts.append(
            f'<line class="rule-{kind}" x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" '
            f'y2="{frame.bottom:.1f}"><title>{tip}</title></line>'
        )
        if row is not None:  # no room left: the marker's tooltip still names the action
            parts.append(
                f'<text class="label-{kind}" x="{x:.1f}" y="{_LABEL_ROWS[row]}" '
                f'text-anchor="middle">{escape(decision.label)}<title>{tip}</title></text>'
            )
    return parts


def _legend(width: int) -> str:
    x = width - _RIGHT
    return (
        f'<g class="legend" transform="translate({x - 330} 12)">'
        '<line class="line-rev" x1="0" y1="0" x2="18" y2="0"/>'
        '<text x="22" y="4">revised (BCI)</text>'
        '<line class="line-raw" x1="104" y1="0" x2="122" y2="0"/>'
        '<text x="126" y="4">raw</text>'
        '<circle class="dot-rev" cx="166" cy="0" r="4" fill="#9ca3af"/>'
        '<text x="174" y="4">checkpoint</text>'
        '<path class="mark-stop" d="M250 -5 l-5 9 h10 z"/><text x="259" y="4">decision</text>'
        "</g>"
    )


def confidence_chart(attempt: ReportAttempt, *, width: int = 820, height: int = 280) -> str:
    """The SVG chart of ``attempt``'s checkpoints and decisions (empty ``str`` without any)."""
    events = attempt.events
    if not events and not attempt.decisions:
        return ""
    tokens = [e.token_index for e in events] + [
        d.token_index for d in attempt.decisions if d.token_index is not None
    ]
    frame = _Frame(width=width, height=height, max_token=max([*tokens, 1]))
    label = (
        f"Confidence over answer tokens for attempt {attempt.number}: "
        f"{len(events)} checkpoint(s), {len(attempt.decisions)} decision(s)"
    )
    body = [
        *_axes(frame),
        *_series(frame, events),
        *_decisions(frame, attempt.decisions, events),
        _legend(width),
    ]
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        + "".join(body)
        + "</svg>"
    )
