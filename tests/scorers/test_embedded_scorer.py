"""FineCEScorer on the real embedded model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.slow

QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did Natalia sell altogether in April and May?"
)
ANSWER = (
    "In April Natalia sold 48 clips.\nIn May she sold half as many: 48 / 2 = 24 clips.\n\n"
    "Altogether she sold 48 + 24 = 72 clips.\n#### 72"
)


def test_batch_matches_single(embedded_scorer: Any) -> None:
    pairs = [(QUESTION, ""), (QUESTION, ANSWER[:40]), (QUESTION, ANSWER), ("What is 2+2?", "5")]
    batched = embedded_scorer.score_batch(pairs)
    assert batched == pytest.approx([embedded_scorer.score(*p) for p in pairs], abs=1e-4)
    assert all(0.0 <= v <= 1.0 for v in batched)


def test_session_on_subword_chunks_matches_recompute(embedded_scorer: Any) -> None:
    """Chunks that cut words in half force re-tokenization (BPE merges) inside the session."""
    session = embedded_scorer.open_session(QUESTION)
    for start in range(0, len(ANSWER), 5):
        session.append(ANSWER[start : start + 5])  # 5 characters: splits words mid-token
        if start % 15 == 0:
            expected = embedded_scorer.score(QUESTION, ANSWER[: start + 5])
            assert session.score() == pytest.approx(expected, abs=1e-4)
    assert session.score() == pytest.approx(embedded_scorer.score(QUESTION, ANSWER), abs=1e-4)
    session.close()


def test_score_cli_json(embedded: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from guardrail.cli import main

    status = main(["score", "--question", QUESTION, "--answer", ANSWER, "--json"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    stages = [row["stage"] for row in report["positions"]]
    assert stages[0] == "question"
    assert stages[-1] == "outcome"
    assert stages.count("process") == 3  # three non-empty lines end with a newline
    assert all(0.0 <= row["confidence"] <= 1.0 for row in report["positions"])
