"""The report page renders in headless Chromium (Debian's ``chromium`` package).

Install it with ``apt-get install -y chromium``; without ``/usr/bin/chromium`` the test skips.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from report_audit import RUN_ID

from guardrail.audit import JsonlAuditLog
from guardrail.policy import load_preset
from guardrail.report import load_run_report, write_html

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1200, 1600


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="headless Chromium not installed (apt-get install -y chromium)"
)
def test_report_renders_in_headless_chromium(log_path: Path, tmp_path: Path) -> None:
    report = load_run_report(JsonlAuditLog(log_path), RUN_ID, policy=load_preset("strict"))
    assert report is not None
    page = write_html(report, tmp_path / "report.html")
    screenshot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={screenshot}",
        f"--window-size={WIDTH},{HEIGHT}",
        page.resolve().as_uri(),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("headless Chromium did not finish within 90 s")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    data = screenshot.read_bytes()
    assert _png_size(data) == (WIDTH, HEIGHT)
    # a blank 1200x1600 page compresses to a few kB; the rendered report is far larger
    assert len(data) > 50_000, f"suspiciously small screenshot ({len(data)} bytes)"
