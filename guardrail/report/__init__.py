"""Self-contained HTML reports of guarded runs and of any answer's confidence.

* :func:`load_run_report` / :func:`report_from_records` build a :class:`RunReport` from the
  audit records of one run (:func:`last_run_id` finds the latest run in a log).
* :func:`inspect_answer` scores a given answer as if it streamed and judges every checkpoint
  with a policy.
* :func:`render_html` / :func:`write_html` turn a report into one HTML page: the answer shaded
  by segment confidence (raw and BCI-revised), a confidence-over-tokens chart with checkpoints
  and decisions, the policy in plain English and the attempts.

>>> from guardrail.audit import open_audit_log
>>> from guardrail.report import last_run_id, load_run_report, write_html
>>> log = open_audit_log()  # doctest: +SKIP
>>> write_html(load_run_report(log, last_run_id(log)), "run.html")  # doctest: +SKIP

Importing this package imports neither torch nor transformers.
"""

from guardrail.report.audit import last_run_id, load_run_report, report_from_records
from guardrail.report.html import render_html, write_html
from guardrail.report.model import (
    ReportAction,
    ReportAttempt,
    ReportDecision,
    RunReport,
    Segment,
)
from guardrail.report.replay import inspect_answer, token_pieces

__all__ = [
    "ReportAction",
    "ReportAttempt",
    "ReportDecision",
    "RunReport",
    "Segment",
    "inspect_answer",
    "last_run_id",
    "load_run_report",
    "render_html",
    "report_from_records",
    "token_pieces",
    "write_html",
]
