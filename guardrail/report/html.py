"""Render a :class:`~guardrail.report.model.RunReport` as one self-contained HTML page.

Inline CSS and inline SVG only: no scripts, no fonts or images to fetch, so the file opens the
same offline, in a mail attachment or in a CI artefact viewer. Every piece of text from the run
(question, answer, reasons, model names) is HTML-escaped. The raw / revised toggle of the
shaded answer is two radio buttons and CSS custom properties.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from guardrail.report.chart import confidence_chart, confidence_color, decision_class
from guardrail.report.model import ReportAttempt, ReportDecision, RunReport, Segment

__all__ = ["render_html", "write_html"]

_STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937;
  background: #f8fafc; margin: 0; }
main { max-width: 900px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.5rem; margin: 0 0 12px; word-break: break-all; }
h2 { font-size: 1.15rem; margin: 2px 0 10px; }
h3 { font-size: 1rem; margin: 18px 0 8px; }
section.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px;
  padding: 16px 20px; margin: 18px 0; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.meta dt { color: #64748b; }
dl.meta dd { margin: 0; }
.question { white-space: pre-wrap; font-weight: 600; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-weight: 600;
  font-size: .85rem; background: #e2e8f0; }
.badge.good { background: #dcfce7; color: #166534; }
.badge.warn { background: #fef3c7; color: #92400e; }
.badge.bad { background: #fee2e2; color: #991b1b; }
.notes { background: #eff6ff; border: 1px solid #bfdbfe; border-radius: 8px; padding: 8px 14px;
  margin: 12px 0; }
.notes p { margin: 4px 0; }
.scale { display: flex; align-items: center; gap: 8px; font-size: .85rem; color: #475569; }
.scale .bar { width: 220px; height: 12px; border-radius: 6px; background: linear-gradient(90deg,
  hsl(0,75%,80%), hsl(60,75%,80%), hsl(120,75%,80%)); }
.view { position: absolute; opacity: 0; pointer-events: none; }
.toggle { display: inline-flex; border: 1px solid #cbd5e1; border-radius: 8px; overflow: hidden;
  margin: 4px 0 10px; }
.toggle label { padding: 3px 12px; cursor: pointer; font-size: .85rem; color: #475569; }
.view-rev:checked ~ .toggle .l-rev, .view-raw:checked ~ .toggle .l-raw {
  background: #1e3a8a; color: #fff; }
.view-rev:focus-visible ~ .toggle .l-rev, .view-raw:focus-visible ~ .toggle .l-raw {
  outline: 2px solid #f59e0b; outline-offset: -2px; }
.answer { white-space: pre-wrap; word-wrap: break-word; font: 14px/1.9 ui-monospace,
  "SFMono-Regular", Menlo, Consolas, monospace; background: #fff; border: 1px solid #e2e8f0;
  border-radius: 8px; padding: 12px 14px; }
.seg { background: var(--rev); border-radius: 3px; padding: 1px 0; }
.view-raw:checked ~ .answer .seg { background: var(--raw); }
.seg.unscored { background: repeating-linear-gradient(45deg, #f1f5f9, #f1f5f9 6px, #e2e8f0 6px,
  #e2e8f0 12px); }
.cp { font: 600 10px/1 system-ui, sans-serif; color: #334155; background: rgba(255,255,255,.75);
  border-radius: 4px; padding: 1px 4px; margin-left: 3px; vertical-align: super; }
.v-raw { display: none; }
.view-raw:checked ~ .answer .v-raw { display: inline; }
.view-raw:checked ~ .answer .v-rev { display: none; }
.missing { color: #475569; font-style: italic; }
.hint { color: #64748b; font-size: .85rem; margin: 6px 0; }
table { border-collapse: collapse; width: 100%; font-size: .86rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e2e8f0;
  vertical-align: top; }
th { color: #475569; font-weight: 600; background: #f8fafc; }
td.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.chart .grid { stroke: #e2e8f0; }
.chart .axis { stroke: #94a3b8; }
.chart .tick, .chart .axis-label, .chart .legend text { font: 11px system-ui, sans-serif;
  fill: #64748b; }
.chart .line-rev { fill: none; stroke: #1d4ed8; stroke-width: 2.2; }
.chart .line-raw { fill: none; stroke: #64748b; stroke-width: 1.5; stroke-dasharray: 5 4; }
.chart .dot-rev { stroke: #1e293b; stroke-width: 1.2; }
.chart .dot-raw { fill: #fff; stroke: #64748b; stroke-width: 1.2; }
.chart .mark-go { fill: #16a34a; }
.chart .mark-flag { fill: #d97706; }
.chart .mark-stop { fill: #dc2626; }
.chart .rule-flag { stroke: #d97706; stroke-dasharray: 3 3; }
.chart .rule-stop { stroke: #dc2626; stroke-dasharray: 3 3; }
.chart .label-flag, .chart .label-stop { font: 600 11px system-ui, sans-serif; }
.chart .label-flag { fill: #b45309; }
.chart .label-stop { fill: #b91c1c; }
.act-go { color: #166534; }
.act-flag { color: #b45309; font-weight: 600; }
.act-stop { color: #b91c1c; font-weight: 600; }
pre.policy { white-space: pre-wrap; background: #f8fafc; border: 1px solid #e2e8f0;
  border-radius: 8px; padding: 10px 14px; font-size: .85rem; margin: 8px 0 0; }
footer { color: #94a3b8; font-size: .8rem; margin-top: 32px; }
"""

_GOOD = {"ok", "approved", "edited", "complete", "would pass"}
_WARN = {"flagged", "pending_review", "fallback", "interrupted", "partial", "would flag"}


def _badge(status: str) -> str:
    tone = "good" if status in _GOOD else "warn" if status in _WARN else "bad"
    if status in {"unknown", ""}:
        tone = ""
    return f'<span class="badge {tone}">{escape(status or "unknown")}</span>'


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _confidence_cell(value: float | None) -> str:
    if value is None:
        return '<td class="num">–</td>'
    swatch = f'<span class="swatch" style="background:{confidence_color(value, 60)}"></span>'
    return f'<td class="num">{swatch}{value:.3f}</td>'


# --------------------------------------------------------------------------- header
def _header(report: RunReport) -> str:
    rows = [("Question", f'<span class="question">{escape(report.question or "–")}</span>')]
    status_label = "Verdict" if report.source == "inspect" else "Status"
    rows.append((status_label, _badge(report.status)))
    rows.append(("Final confidence", _number(report.final_confidence)))
    policy = escape(report.policy_name or "unknown")
    if report.policy_version:
        policy += f" <small>(version {escape(report.policy_version)})</small>"
    rows.append(("Policy", policy))
    if report.run_id:
        rows.append(("Run id", f"<code>{escape(report.run_id)}</code>"))
    if report.started is not None:
        rows.append(("Started", escape(report.started.strftime("%Y-%m-%d %H:%M:%S %Z"))))
    if report.duration_s is not None:
        rows.append(("Duration", f"{report.duration_s:.2f} s"))
    rows.append(("Attempts", str(len(report.attempts))))
    body = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    notes = "".join(f"<p>{escape(note)}</p>" for note in report.notes)
    return (
        f"<h1>{escape(report.title)}</h1>"
        f'<section class="card"><dl class="meta">{body}</dl>'
        + (f'<div class="notes">{notes}</div>' if notes else "")
        + "</section>"
    )


# --------------------------------------------------------------------------- answer
def _segment_tip(segment: Segment, decisions: list[ReportDecision]) -> str:
    event = segment.event
    if event is None:
        return f"characters {segment.char_start}–{segment.char_end}: not scored"
    tip = (
        f"checkpoint {event.index} ({event.stage.value}, {event.reason}) after "
        f"{event.token_index} tokens, characters {event.char_start}–{event.char_end}\n"
        f"raw {event.confidence:.3f} · revised {event.revised:.3f}"
    )
    if event.entropy is not None:
        tip += f" · entropy {event.entropy:.3f}"
    for decision in decisions:
        rule = f" (rule {decision.rule})" if decision.rule else ""
        tip += f"\ndecision: {decision.label}{rule}"
    return tip


def _segment_html(segment: Segment, decisions: list[ReportDecision]) -> str:
    event = segment.event
    if segment.text is None:
        size = segment.char_end - segment.char_start
        body, trailing = f'<span class="missing">⟨{size} characters, text not recorded⟩</span>', ""
    else:
        stripped = segment.text.rstrip()
        body, trailing = escape(stripped), escape(segment.text[len(stripped) :])
    tip = escape(_segment_tip(segment, decisions))
    if event is None:
        return f'<span class="seg unscored" title="{tip}">{body}</span>{trailing}'
    style = f"--raw:{confidence_color(event.confidence)};--rev:{confidence_color(event.revised)}"
    badge = (
        f'<sup class="cp">#{event.index} <span class="v-rev">{event.revised:.2f}</span>'
        f'<span class="v-raw">{event.confidence:.2f}</span></sup>'
    )
    return f'<span class="seg" style="{style}" title="{tip}">{body}{badge}</span>{trailing}'


def _answer(attempt: ReportAttempt) -> str:
    by_checkpoint: dict[int, list[ReportDecision]] = defaultdict(list)
    for decision in attempt.decisions:
        if decision.checkpoint is not None:
            by_checkpoint[decision.checkpoint].append(decision)
    segments = attempt.segments()
    if segments:
        text = "".join(
            _segment_html(s, by_checkpoint[s.event.index] if s.event else []) for s in segments
        )
    else:
        text = '<span class="missing">(no answer text)</span>'
    n = attempt.number
    return (
        f'<input class="view view-rev" type="radio" name="view-{n}" id="a{n}-rev" checked>'
        f'<input class="view view-raw" type="radio" name="view-{n}" id="a{n}-raw">'
        '<div class="toggle">'
        f'<label class="l-rev" for="a{n}-rev">BCI-revised</label>'
        f'<label class="l-raw" for="a{n}-raw">raw</label></div>'
        f'<div class="answer" data-segments="{len(segments)}">{text}</div>'
    )


def _checkpoint_table(attempt: ReportAttempt) -> str:
    by_checkpoint: dict[int | None, list[ReportDecision]] = defaultdict(list)
    for decision in attempt.decisions:
        by_checkpoint[decision.checkpoint].append(decision)
    rows = []
    for event in attempt.events:
        decisions = by_checkpoint.pop(event.index, [])
        rows.append(
            f"<tr><td>{event.index}</td><td>{escape(event.stage.value)}</td>"
            f"<td>{escape(event.reason)}</td><td class='num'>{event.token_index}</td>"
            f"<td class='num'>{event.char_start}–{event.char_end}</td>"
            f"{_confidence_cell(event.confidence)}{_confidence_cell(event.revised)}"
            f"<td class='num'>{event.latency_s * 1000:.1f}</td>{_decision_cells(decisions)}</tr>"
        )
    for decisions in by_checkpoint.values():  # decisions without a scored checkpoint
        rows.append(f"<tr><td colspan='8'>no checkpoint</td>{_decision_cells(decisions)}</tr>")
    return (
        '<table class="checkpoints"><thead><tr><th>#</th><th>Stage</th><th>Trigger</th>'
        "<th>Tokens</th><th>Chars</th><th>Raw</th><th>Revised</th><th>ms</th><th>Decision</th>"
        "<th>Why</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _decision_cells(decisions: list[ReportDecision]) -> str:
    if not decisions:
        return "<td>–</td><td></td>"
    actions = "<br>".join(
        f'<span class="act-{decision_class(d)}">{escape(d.label)}</span>'
        + (f" <small>({escape(d.rule)})</small>" if d.rule else "")
        for d in decisions
    )
    reasons = "<br>".join(escape("; ".join(d.reasons)) for d in decisions)
    return f"<td>{actions}</td><td>{reasons}</td>"


def _attempt_section(attempt: ReportAttempt, report: RunReport) -> str:
    parts = [attempt.kind.replace("_", " ")]
    if attempt.model:
        parts.append(attempt.model)
    heading = f"Attempt {attempt.number} · " + " · ".join(escape(p) for p in parts)
    errors = "".join(f"<p class='act-stop'>{escape(error)}</p>" for error in attempt.errors)
    actions = "".join(f"<p>Then: {escape(action.summary)}</p>" for action in attempt.actions)
    chart = confidence_chart(attempt) or '<p class="hint">No checkpoint was scored.</p>'
    return (
        f'<section class="card attempt" id="attempt-{attempt.number}">'
        f"<h2>{heading} {_badge(attempt.status)}</h2>"
        "<h3>Answer, shaded by confidence</h3>"
        f"{_answer(attempt)}<p class='hint'>{escape(report.revised_note)} Hover a segment for "
        "its checkpoint; #N is the checkpoint that scored it.</p>"
        f"<h3>Confidence over tokens</h3>{chart}"
        f"<h3>Checkpoints and decisions</h3>{_checkpoint_table(attempt)}{errors}{actions}"
        "</section>"
    )


# ------------------------------------------------------------------------ sections
def _attempts_table(report: RunReport) -> str:
    rows = []
    for attempt in report.attempts:
        decided = Counter(d.label for d in attempt.decisions if decision_class(d) != "go")
        summary = ", ".join(f"{label} ×{n}" if n > 1 else label for label, n in decided.items())
        rows.append(
            f'<tr class="attempt-row"><td><a href="#attempt-{attempt.number}">'
            f"{attempt.number}</a></td><td>{escape(attempt.kind)}</td>"
            f"<td class='nowrap'>{escape(attempt.model or '–')}</td>"
            f"<td>{_badge(attempt.status)}</td>"
            f"<td class='num'>{len(attempt.events)}</td>"
            f"{_confidence_cell(attempt.final_confidence)}"
            f"{_confidence_cell(attempt.min_confidence)}"
            f"<td>{escape(summary or 'continue')}</td>"
            f"<td>{escape('; '.join(a.summary for a in attempt.actions) or '–')}</td></tr>"
        )
    if not rows:
        rows.append("<tr><td colspan='9'>No attempt was recorded.</td></tr>")
    return (
        '<section class="card"><h2>Attempts</h2><table class="attempts"><thead><tr>'
        "<th>#</th><th>Kind</th><th>Model</th><th>Status</th><th>Checkpoints</th>"
        "<th>Final conf.</th><th>Min conf.</th><th>Decisions</th><th>Action taken</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _policy_section(report: RunReport) -> str:
    if report.policy_explanation is None:
        name = escape(report.policy_name or "unknown")
        body = (
            f"<p>The run applied policy <b>{name}</b>; its definition is not available here. "
            "Pass <code>--policy FILE</code> to explain it.</p>"
        )
    else:
        source = (
            f'<p class="hint">From {escape(report.policy_source)}.</p>'
            if report.policy_source
            else ""
        )
        body = f'{source}<pre class="policy">{escape(report.policy_explanation)}</pre>'
    return f'<section class="card policy-section"><h2>Policy</h2>{body}</section>'


def _extras(report: RunReport) -> str:
    parts = []
    final = report.final_attempt
    returned = report.final_answer
    if returned is not None and (final is None or returned != final.answer):
        parts.append(
            '<section class="card"><h2>Returned answer</h2>'
            f'<div class="answer">{escape(returned)}</div></section>'
        )
    if report.errors:
        items = "".join(f"<li>{escape(error)}</li>" for error in report.errors)
        parts.append(f'<section class="card"><h2>Errors</h2><ul>{items}</ul></section>')
    return "".join(parts)


def render_html(report: RunReport, *, generated: datetime | None = None) -> str:
    """The report page as one HTML document (inline CSS and SVG, no scripts)."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z")
    scale = (
        '<div class="scale"><span>confidence 0</span><span class="bar"></span><span>1</span>'
        '<span class="swatch" style="background:#e2e8f0"></span><span>not scored</span></div>'
    )
    attempts = "".join(_attempt_section(attempt, report) for attempt in report.attempts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.title)}</title><style>{_STYLE}</style></head><body><main>"
        f"{_header(report)}{_attempts_table(report)}{scale}{attempts}{_policy_section(report)}"
        f"{_extras(report)}<footer>Generated by FineCE Guardrail on {escape(when)}.</footer>"
        "</main></body></html>\n"
    )


def write_html(
    report: RunReport, path: str | os.PathLike[str], *, generated: datetime | None = None
) -> Path:
    """Write the report page to ``path`` (UTF-8; parent folders created); return the path."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report, generated=generated), encoding="utf-8")
    return target
