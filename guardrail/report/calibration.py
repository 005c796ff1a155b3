"""The guard's live calibration against reviewers' verdicts (``guardrail report --calibration``).

:func:`review_calibration` reads the last ``window`` decided review items of a generator
(:func:`guardrail.runtime.drift.live_outcomes`: approve is right, edit or reject wrong; held
partial answers and items without a confidence left out) and measures them as the evaluation
does (:func:`guardrail.reliability.calibration_summary`): the calibration error (ECE-15) beside
its noise floor, the mean confidence minus the accuracy, the Brier score, and the reliability
bins. :func:`render_calibration_html` draws them as one self-contained page (inline CSS and
SVG: a reliability diagram, the figures, the bins); :func:`calibration_text` is the terminal
summary.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from guardrail.errors import GuardrailConfigError
from guardrail.reliability import (
    DEFAULT_BINS,
    CalibrationReading,
    calibration_summary,
    reliability_bins,
)
from guardrail.report.html import _STYLE
from guardrail.review import open_review_store
from guardrail.runtime.drift import DECIDED, live_outcomes

__all__ = [
    "ReviewCalibration",
    "calibration_text",
    "reliability_svg",
    "render_calibration_html",
    "review_calibration",
    "write_calibration_html",
]


@dataclass(frozen=True, slots=True)
class ReviewCalibration:
    """Live confidences against verdicts: the reading and its reliability bins."""

    reading: CalibrationReading
    bins: Sequence[Mapping[str, float]]
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (non-finite numbers as ``None``)."""
        bins = [{k: (v if math.isfinite(v) else None) for k, v in row.items()} for row in self.bins]
        return {**self.reading.to_dict(), "source": self.source, "bins": bins}


def review_calibration(
    url_or_path: str | os.PathLike[str] | None,
    *,
    generator: str | None = None,
    window: int = 200,
    queue: str | None = None,
    n_bins: int = DEFAULT_BINS,
    seed: int = 0,
) -> ReviewCalibration:
    """The calibration of the last ``window`` decided items of ``generator`` in a review store.

    ``url_or_path`` is an SQLite file, ``sqlite:///PATH`` or a ``postgresql://`` URL (``None``:
    the default review database). No decided item with a confidence is a
    :class:`GuardrailConfigError` saying so.
    """
    if window < 1:
        raise GuardrailConfigError(f"--window must be >= 1, got {window}")
    store = open_review_store(url_or_path, create=False)
    try:
        items = store.list(status=DECIDED, queue=queue)
    finally:
        store.close()
    source = str(url_or_path) if url_or_path is not None else repr(store)
    conf, right = live_outcomes(items, generator=generator, last=window)
    if not conf:
        wanted = f" of generator {generator!r}" if generator else ""
        raise GuardrailConfigError(
            f"review store {source}: no decided review item{wanted} with a live confidence "
            f"({len(items)} decided item(s) in all); decide some with `guardrail review`"
        )
    summary = calibration_summary(conf, right, n_bins=n_bins, seed=seed)
    reading = CalibrationReading(summary, window=window, generator=generator, source=source)
    return ReviewCalibration(reading, reliability_bins(conf, right, n_bins), source)


def calibration_text(calibration: ReviewCalibration) -> str:
    """The figures as a few lines for the terminal."""
    s = calibration.reading.summary
    verdict = "within its noise" if s.within_noise else "OUTSIDE its noise"
    rows = [
        ("accuracy (share approved)", f"{s.accuracy:.3f}"),
        ("mean confidence", f"{s.mean_confidence:.3f}"),
        ("mean confidence - accuracy", f"{s.confidence_gap:+.3f}"),
        ("Brier score", f"{s.brier:.3f}"),
        (
            f"calibration error (ECE-{s.n_bins})",
            f"{s.ece:.3f}: {verdict} (floor {s.noise_floor:.3f}, 95% band {s.noise_q95:.3f}, "
            f"p = {s.noise_p:.2f})",
        ),
    ]
    lines = [
        f"live calibration: {s.n} decided review item(s) of "
        f"{calibration.reading.generator or 'every generator'} ({calibration.source})",
        *(f"  {label:<28} {value}" for label, value in rows),
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------ the page
_SIZE, _PAD = 360, 44


def _xy(confidence: float, accuracy: float) -> tuple[float, float]:
    inner = _SIZE - 2 * _PAD
    return _PAD + inner * confidence, _SIZE - _PAD - inner * accuracy


def reliability_svg(bins: Sequence[Mapping[str, float]]) -> str:
    """A reliability diagram: accuracy against mean confidence per bin, dot area by count."""
    full = [b for b in bins if b["count"] > 0]
    largest = max((b["count"] for b in full), default=1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_SIZE} {_SIZE}" width="{_SIZE}" height="{_SIZE}" '
        'role="img" aria-label="reliability diagram">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x, _ = _xy(tick, 0.0)
        _, y = _xy(0.0, tick)
        low, high = _xy(0.0, 0.0), _xy(1.0, 1.0)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{low[1]:.1f}" x2="{x:.1f}" y2="{high[1]:.1f}"/>'
        )
        parts.append(
            f'<line class="grid" x1="{low[0]:.1f}" y1="{y:.1f}" x2="{high[0]:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{low[1] + 16:.1f}" text-anchor="middle">'
            f"{tick:g}</text>"
        )
        parts.append(
            f'<text class="tick" x="{low[0] - 8:.1f}" y="{y + 4:.1f}" text-anchor="end">'
            f"{tick:g}</text>"
        )
    (x0, y0), (x1, y1) = _xy(0.0, 0.0), _xy(1.0, 1.0)
    parts.append(
        f'<line class="line-raw" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}"/>'
    )
    points = [_xy(b["confidence"], b["accuracy"]) for b in full]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="line-rev" points="{path}"/>')
    for b, (x, y) in zip(full, points, strict=True):
        radius = 3.0 + 9.0 * math.sqrt(b["count"] / largest)
        tip = (
            f"confidence {b['lo']:.2f}-{b['hi']:.2f}: {int(b['count'])} item(s), "
            f"mean confidence {b['confidence']:.3f}, approved {b['accuracy']:.3f}"
        )
        parts.append(
            f'<circle class="dot-rev" cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" '
            f'fill="rgba(29,78,216,.35)"><title>{escape(tip)}</title></circle>'
        )
    parts.append(
        f'<text class="axis-label" x="{_SIZE / 2:.0f}" y="{_SIZE - 8}" text-anchor="middle">'
        "live confidence</text>"
        f'<text class="axis-label" x="12" y="{_SIZE / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_SIZE / 2:.0f})">share approved</text></svg>'
    )
    return "".join(parts)


def _figures(calibration: ReviewCalibration) -> str:
    s = calibration.reading.summary
    badge = (
        '<span class="badge good">within its noise</span>'
        if s.within_noise
        else '<span class="badge bad">outside its noise</span>'
    )
    rows = [
        ("decided items", f"{s.n} (last {calibration.reading.window} asked for)"),
        ("generator", escape(calibration.reading.generator or "every generator")),
        ("accuracy (share approved)", f"{s.accuracy:.3f}"),
        ("mean confidence", f"{s.mean_confidence:.3f}"),
        ("mean confidence − accuracy", f"{s.confidence_gap:+.3f}"),
        ("Brier score", f"{s.brier:.3f}"),
        (f"calibration error (ECE, {s.n_bins} bins)", f"{s.ece:.3f} {badge}"),
        (
            "noise floor (calibrated scorer, same confidences)",
            f"mean {s.noise_floor:.3f}, 95% below {s.noise_q95:.3f}; p = {s.noise_p:.2f}",
        ),
    ]
    body = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return f'<dl class="meta">{body}</dl>'


def _bins_table(bins: Sequence[Mapping[str, float]]) -> str:
    rows = "".join(
        f'<tr><td class="nowrap">{b["lo"]:.2f}–{b["hi"]:.2f}</td>'
        f'<td class="num">{int(b["count"])}</td><td class="num">{b["confidence"]:.3f}</td>'
        f'<td class="num">{b["accuracy"]:.3f}</td>'
        f'<td class="num">{b["confidence"] - b["accuracy"]:+.3f}</td></tr>'
        for b in bins
        if b["count"] > 0
    )
    return (
        "<table><tr><th>confidence</th><th>items</th><th>mean confidence</th>"
        f"<th>approved</th><th>gap</th></tr>{rows}</table>"
    )


def render_calibration_html(
    calibration: ReviewCalibration, *, generated: datetime | None = None
) -> str:
    """The calibration page as one HTML document (inline CSS and SVG, no scripts)."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z")
    title = "Live calibration against reviewers' verdicts"
    explain = (
        '<p class="hint">Each dot is a confidence bin: its live confidence against the share '
        "of its answers the reviewers approved (edits and rejections count as wrong); the "
        "dashed diagonal is perfect calibration and a dot's area grows with its items. A "
        "calibrated scorer still shows a calibration error on few items: the noise floor is "
        "what one would show at the same confidences, and only an error beyond its 95% band "
        "is evidence of miscalibration.</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{title}</h1>"
        f'<section class="card"><h2>Figures</h2>{_figures(calibration)}</section>'
        f'<section class="card"><h2>Reliability diagram</h2>{explain}'
        f"{reliability_svg(calibration.bins)}</section>"
        f'<section class="card"><h2>Bins</h2>{_bins_table(calibration.bins)}</section>'
        f"<footer>Read from {escape(calibration.source)}. Generated by FineCE Guardrail on "
        f"{escape(when)}.</footer></main></body></html>\n"
    )


def write_calibration_html(calibration: ReviewCalibration, path: str | os.PathLike[str]) -> Path:
    """Write the calibration page to ``path`` (parent folders created); return the path."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_calibration_html(calibration), encoding="utf-8")
    return target
