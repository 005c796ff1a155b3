"""The public API of ``guardrail.report`` is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import guardrail.report

EXPECTED = {
    "ReportAction", "ReportAttempt", "ReportDecision", "RunReport", "Segment", "inspect_answer",
    "last_run_id", "load_run_report", "render_html", "report_from_records", "token_pieces",
    "write_html",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(guardrail.report.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(guardrail.report, name) is not None


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, guardrail.report, guardrail.cli.report\n"
        "heavy = ('torch', 'transformers', 'langchain_core', 'litellm')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
