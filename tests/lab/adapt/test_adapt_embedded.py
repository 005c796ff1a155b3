"""One short ``guardrail adapt`` on the embedded model: the folder works as a scorer for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrail.lab.adapt.run import AdaptSettings, adapt
from guardrail.lab.adapt.split import min_questions
from guardrail.scorers import create_scorer
from guardrail.scorers.adapted import AdaptedScorer
from guardrail.scorers.card import check_model

GENERATOR = "builtin:smollm2-135m-instruct"


@pytest.mark.slow
def test_adapt_on_the_embedded_model_writes_a_working_guard(tmp_path: Path) -> None:
    settings = AdaptSettings(
        generator=GENERATOR,
        task="facts",
        limit=min_questions(),
        out=tmp_path / "guard",
        k=2,
        levels=0,
        max_new_tokens=40,
        agreement_k=2,
        finetune_steps=0,
        n_bootstrap=20,
        device="cpu",
    )
    result = adapt(settings)
    data = json.loads((tmp_path / "guard" / "adapt.json").read_text())
    assert data["labels"]["done"] == data["labels"]["total"]
    assert data["comparison"]["choice"] == result.comparison.choice
    scorer = create_scorer(str(tmp_path / "guard"), device="cpu")
    assert isinstance(scorer, AdaptedScorer)
    assert check_model(scorer, GENERATOR) is False
    assert 0.0 <= scorer.for_stage(0.5, "outcome") <= 1.0
