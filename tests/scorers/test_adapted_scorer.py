"""An adapt folder as a scorer: each kind of chosen scorer, its maps per stage, card and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from guardrail.calibration import PlattMap
from guardrail.combiner import HYBRID_FEATURES, LogisticCombiner
from guardrail.entropy import TokenLogprobs
from guardrail.errors import GuardrailConfigError
from guardrail.scorers import create_scorer, reads_generator_logprobs
from guardrail.scorers.adapted import ADAPT_FILE, AdaptedScorer
from guardrail.scorers.card import check_model
from guardrail.scorers.card_refs import card_for_ref
from guardrail.scorers.hybrid import HybridCalibration, hybrid_inputs, write_hybrid

GENERATOR = "builtin:smollm2-135m-instruct"
POOLED = PlattMap(coef=2.0, intercept=0.5)
OUTCOME = PlattMap(coef=1.0, intercept=-1.0)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from guardrail.testing.tiny import tiny_llama

    directory = tmp_path_factory.mktemp("tiny-model")
    model, tokenizer = tiny_llama()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _folder(tmp_path: Path, scorer: dict[str, Any]) -> Path:
    folder = tmp_path / "guard"
    folder.mkdir(exist_ok=True)
    data = {
        "format": 1,
        "generator": GENERATOR,
        "task": "short-answer",
        "scorer": scorer,
        "comparison": {"choice": "x", "why": "a test", "rule": "r", "candidates": {}},
    }
    (folder / ADAPT_FILE).write_text(json.dumps(data))
    return folder


def _maps() -> dict[str, Any]:
    return {"pooled": POOLED.to_dict(), "outcome": OUTCOME.to_dict()}


def _tokens(question: str, answer: str) -> list[TokenLogprobs]:
    return [TokenLogprobs(w, math.log(0.6), ((w, math.log(0.6)),)) for w in answer.split()]


def test_a_chosen_finece_scorer_gets_the_pooled_map_and_each_stage_its_own(
    tmp_path: Path, tiny_dir: Path
) -> None:
    folder = _folder(tmp_path, {"kind": "finece", "ref": str(tiny_dir), "maps": _maps()})
    assert not reads_generator_logprobs(str(folder))
    scorer = create_scorer(str(folder), device="cpu")
    assert isinstance(scorer, AdaptedScorer)
    inner = create_scorer(str(tiny_dir), device="cpu")
    pair = ("What is 2 + 2?", "4")
    raw = inner.score_batch([pair])[0]
    pooled = scorer.score_batch([pair])[0]
    assert pooled == pytest.approx(POOLED.apply([raw])[0])
    assert scorer.for_stage(pooled, "outcome") == pytest.approx(OUTCOME.apply([raw])[0])
    assert scorer.for_stage(pooled, "process") == pytest.approx(pooled)  # no own map: pooled
    session = scorer.open_session(pair[0])
    session.append(pair[1])
    assert session.score() == pytest.approx(pooled, abs=1e-4)
    session.close()


def test_a_chosen_logprob_signal_reads_the_generators_logprobs(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, {"kind": "logprob", "ref": "logprob:mean_logprob", "window": 16, "maps": _maps()}
    )
    assert reads_generator_logprobs(str(folder))
    scorer = create_scorer(str(folder), recompute=_tokens)
    value = scorer.score("q", "one two")
    assert value == pytest.approx(POOLED.apply([0.6])[0])
    assert check_model(scorer, GENERATOR) is False


def test_a_chosen_hybrid_applies_its_combiner_for_the_generator(
    tmp_path: Path, tiny_dir: Path
) -> None:
    n = len(HYBRID_FEATURES)
    combiner = LogisticCombiner(
        HYBRID_FEATURES, (0.0,) * (n - 1) + (1.0,), (0.0,) * n, (1.0,) * n, 0.0
    )
    ref = f"hybrid:{tiny_dir}"
    folder = _folder(
        tmp_path, {"kind": "hybrid", "ref": ref, "combiner": "hybrid.json", "maps": {}}
    )
    write_hybrid(HybridCalibration(ref, GENERATOR, 16, combiner), folder / "hybrid.json")
    assert reads_generator_logprobs(str(folder))
    scorer = create_scorer(str(folder), device="cpu", recompute=_tokens)
    finece = create_scorer(str(tiny_dir), device="cpu")
    asked, current = finece.score_batch([("q", ""), ("q", "one two")])
    inputs = hybrid_inputs(asked, current, _tokens("q", "one two"), 16)
    assert inputs is not None
    assert scorer.score("q", "one two") == pytest.approx(combiner.predict(inputs))
    card = card_for_ref(str(folder))
    assert card.kind == "adapted"
    assert card.generators == (GENERATOR,)


def test_a_broken_adapt_file_names_the_file_and_field(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"kind": "magic", "ref": "x"})
    with pytest.raises(GuardrailConfigError, match=rf"{ADAPT_FILE}: scorer.kind must be one of"):
        create_scorer(str(folder))
