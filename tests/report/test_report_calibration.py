"""``guardrail report --calibration``: live confidences against reviewers' verdicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.reliability import calibration_summary
from guardrail.report.calibration import (
    calibration_text,
    render_calibration_html,
    review_calibration,
)
from guardrail.review import SQLiteReviewQueue
from guardrail.testing.reviews import Decided, add_decided, calibrated_verdicts

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(cli_for: Callable[..., Run]) -> Run:
    return cli_for("guardrail.cli.report")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """60 over-confident decisions of the embedded model, and 5 of another model."""
    path = tmp_path / "review.db"
    rng = np.random.default_rng(0)
    with SQLiteReviewQueue(path, synchronous="NORMAL") as store:
        verdicts = calibrated_verdicts(rng.uniform(0.4, 1.0, 60), rng.uniform(size=60), shift=0.3)
        add_decided(store, verdicts)
        add_decided(store, [Decided(0.1, "approve", model="gpt-4o-mini")] * 5)
    return path


def test_the_figures_are_the_evaluation_s(db: Path) -> None:
    calibration = review_calibration(db, generator="builtin:smollm2-135m-instruct", window=50)
    summary = calibration.reading.summary
    assert summary.n == 50
    with SQLiteReviewQueue(db) as store:
        items = [i for i in store.list() if i.model != "gpt-4o-mini"][-50:]
    conf = [i.confidence for i in items]
    right = [i.decision is not None and i.decision.verdict.value == "approve" for i in items]
    assert summary == calibration_summary(conf, right)
    assert summary.within_noise is False
    assert sum(b["count"] for b in calibration.bins) == 50
    text = calibration_text(calibration)
    assert "OUTSIDE its noise" in text
    assert f"{summary.confidence_gap:+.3f}" in text


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_the_page_has_the_diagram_and_escapes_names(db: Path) -> None:
    calibration = review_calibration(db, generator=None)
    page = render_calibration_html(calibration)
    parser = _Collect()
    parser.feed(page)
    assert parser.tags.count("circle") == sum(1 for b in calibration.bins if b["count"] > 0)
    assert "script" not in parser.tags
    assert "outside its noise" in page
    hostile = review_calibration(db, generator=None)
    object.__setattr__(hostile, "source", "<img src=x>")
    assert "<img src=x>" not in render_calibration_html(hostile)


def test_cli_prints_the_figures_and_writes_the_page(db: Path, tmp_path: Path, run: Run) -> None:
    page, figures = tmp_path / "cal.html", tmp_path / "cal.json"
    code, out, err = run(
        "report",
        "--calibration",
        "--review-db",
        str(db),
        "--generator",
        "smollm2-135m-instruct",
        "-o",
        str(page),
        "--json",
        str(figures),
    )
    assert code == 0, err
    assert "60 decided review item(s)" in out
    assert "calibration error (ECE-15)" in out
    assert page.read_text("utf-8").startswith("<!DOCTYPE html>")
    data = json.loads(figures.read_text("utf-8"))
    assert data["n"] == 60
    assert data["within_noise"] is False
    assert data["bins"][0]["confidence"] is None  # an empty bin, as null


def test_nothing_decided_is_a_clear_error(db: Path, tmp_path: Path, run: Run) -> None:
    code, _, err = run("report", "--calibration", "--review-db", str(db), "--generator", "gpt-5")
    assert code != 0
    assert "no decided review item of generator 'gpt-5'" in err
    code, _, err = run("report", "--calibration", "--review-db", str(tmp_path / "none.db"))
    assert code != 0
    assert "no review database" in err
    with pytest.raises(GuardrailConfigError, match="--window"):
        review_calibration(db, window=0)
