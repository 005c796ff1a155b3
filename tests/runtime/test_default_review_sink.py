"""The default review queue says where review items go, unless the location was configured."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from guardrail.runtime.review import DefaultReviewSink


def test_the_default_location_is_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("GUARDRAIL_REVIEW_DB", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    sink = DefaultReviewSink()
    with caplog.at_level(logging.WARNING, logger="guardrail.runtime.review"):
        sink.queue.close()
    (record,) = [r for r in caplog.records if r.name == "guardrail.runtime.review"]
    message = record.getMessage()
    assert str(tmp_path / "guardrail" / "review.db") in message
    assert "GUARDRAIL_REVIEW_DB" in message


def test_a_configured_location_is_used_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GUARDRAIL_REVIEW_DB", str(tmp_path / "project-review.db"))
    with caplog.at_level(logging.WARNING, logger="guardrail.runtime.review"):
        DefaultReviewSink().queue.close()
    assert [r for r in caplog.records if r.name == "guardrail.runtime.review"] == []
    assert (tmp_path / "project-review.db").exists()
