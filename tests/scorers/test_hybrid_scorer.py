"""``hybrid:REF``: a FineCE scorer and the generator's logprob signals, combined per model."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.cli import main
from guardrail.combiner import HYBRID_FEATURES, LogisticCombiner
from guardrail.entropy import TokenLogprobs, parse_logprobs
from guardrail.errors import GuardrailConfigError, ScorerUnavailableError
from guardrail.events import Stage
from guardrail.lab.graded import GradedAnswer, GradedFile
from guardrail.lab.hybrid_fit import fit_hybrid
from guardrail.monitor import ConfidenceMonitor
from guardrail.scorers import create_scorer, reads_generator_logprobs
from guardrail.scorers.card import ScorerMismatchWarning, scorer_for_model
from guardrail.scorers.card_refs import card_for_ref
from guardrail.scorers.hybrid import (
    HybridCalibration,
    HybridScorer,
    hybrid_inputs,
    load_hybrids,
    parse_hybrid_ref,
    read_hybrid,
    write_hybrid,
)
from guardrail.testing import ScriptedScorer
from guardrail.triggers.config import CheckpointSettings

REF = "hybrid:scripted"


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE", str(tmp_path / "cache"))


def _finece(question: str, answer: str) -> float:
    """A stand-in readout: 0.6 before the answer, then lower the more 'maybe' it says."""
    return 0.6 if not answer else max(0.05, 0.8 - 0.2 * answer.count("maybe"))


def _combiner(coef: tuple[float, ...] = (0.5, 1.0, 0.8, 0.4, 0.3)) -> LogisticCombiner:
    return LogisticCombiner(HYBRID_FEATURES, coef, (0.0,) * 5, (1.0,) * 5, -0.2)


def _calibration(model: str = "gen-a", window: int = 2) -> HybridCalibration:
    return HybridCalibration(REF, model, window, _combiner(), {"answers": 10})


def _logprobs(*values: float) -> list[dict[str, Any]]:
    return [
        {"token": f"t{i}", "logprob": v, "top_logprobs": [{"token": "x", "logprob": v - 1.0}]}
        for i, v in enumerate(values)
    ]


def _scorer(**options: Any) -> HybridScorer:
    return HybridScorer(ScriptedScorer(_finece), REF, **options)


def test_a_reference_must_name_a_finece_scorer() -> None:
    assert parse_hybrid_ref("hybrid:builtin:finece-smollm2") == "builtin:finece-smollm2"
    for bad in ("hybrid:", "hybrid:  ", "hybrid:logprob:min_window", "hybrid:hybrid:x", "x"):
        with pytest.raises(GuardrailConfigError, match="hybrid"):
            parse_hybrid_ref(bad)
    assert reads_generator_logprobs("hybrid:x")
    assert reads_generator_logprobs("logprob:min_window")
    assert not reads_generator_logprobs("builtin:finece-smollm2")


def test_a_session_combines_the_readout_and_the_streamed_logprobs() -> None:
    scorer = _scorer(calibrations={"gen-a": _calibration()}).for_model("builtin:gen-a")
    assert scorer.calibration is not None
    session = scorer.open_session("q?")
    assert session.score() == pytest.approx(0.6)  # the question estimate: FineCE's own
    session.append_token("so ", _logprobs(-0.1))
    session.append_token("maybe 4", _logprobs(-0.7, -1.2))
    tokens = parse_logprobs(_logprobs(-0.1, -0.7, -1.2))
    expected = _combiner().predict(hybrid_inputs(0.6, 0.6, tokens, 2) or {})
    assert session.score() == pytest.approx(expected)
    session.close()


def test_the_question_estimate_is_asked_when_the_first_score_comes_after_tokens() -> None:
    finece = ScriptedScorer(_finece)
    scorer = HybridScorer(finece, REF, calibrations={"gen-a": _calibration()}, model="gen-a")
    session = scorer.open_session("q?")
    session.append_token("4", _logprobs(-0.2))
    value = session.score()
    tokens = parse_logprobs(_logprobs(-0.2))
    assert value == pytest.approx(_combiner().predict(hybrid_inputs(0.6, 0.8, tokens, 2) or {}))
    assert ("q?", "") in [(c.question, c.answer) for c in finece.calls]


def test_text_without_logprobs_cannot_be_combined() -> None:
    scorer = _scorer(calibrations={"gen-a": _calibration()}, model="gen-a")
    session = scorer.open_session("q?")
    session.append("4")
    with pytest.raises(ScorerUnavailableError, match="logprobs=True"):
        session.score()
    with pytest.raises(ScorerUnavailableError, match="recompute"):
        scorer.score("q?", "4")


def test_a_model_without_a_combiner_gets_the_readout_and_is_a_mismatch() -> None:
    scorer = _scorer(calibrations={"gen-a": _calibration()})
    with pytest.warns(ScorerMismatchWarning, match="guardrail calibrate"):
        bound, mismatch = scorer_for_model(scorer, "gen-b")
    assert isinstance(bound, HybridScorer)
    assert bound.calibration is None
    assert mismatch is True
    session = bound.open_session("q?")
    session.append_token("maybe", _logprobs(-0.3))
    assert session.score() == pytest.approx(0.6)
    assert scorer_for_model(scorer, "gen-a")[1] is False
    assert bound.card.kind == "hybrid"
    assert bound.card.generators == ("gen-a",)


def test_text_scores_recompute_the_logprobs() -> None:
    seen: list[tuple[str, str]] = []

    def recompute(question: str, answer: str) -> list[TokenLogprobs]:
        seen.append((question, answer))
        return parse_logprobs(_logprobs(-0.5, -0.5))

    scorer = _scorer(calibrations={"gen-a": _calibration()}, model="gen-a", recompute=recompute)
    values = scorer.score_batch([("q?", ""), ("q?", "maybe 3"), ("r?", "7")])
    tokens = parse_logprobs(_logprobs(-0.5, -0.5))
    assert values[0] == pytest.approx(0.6)
    assert values[1] == pytest.approx(_combiner().predict(hybrid_inputs(0.6, 0.6, tokens, 2) or {}))
    assert values[2] == pytest.approx(_combiner().predict(hybrid_inputs(0.6, 0.8, tokens, 2) or {}))
    assert seen == [("q?", "maybe 3"), ("r?", "7")]


def test_a_monitor_streams_logprobs_into_it() -> None:
    scorer = _scorer(calibrations={"gen-a": _calibration()}, model="gen-a")
    settings_ = CheckpointSettings.model_validate(
        {"strategies": [{"type": "paragraph"}], "min_gap": 0}
    )
    monitor = ConfidenceMonitor(scorer, "q?", settings_)
    monitor.start()
    for text, logprob in (("First", -0.1), (" line.\n", -0.2), ("maybe", -2.0), (" 5.", -1.5)):
        monitor.feed(text, _logprobs(logprob))
    monitor.finish()
    stages = [e.stage for e in monitor.events]
    assert stages[0] is Stage.QUESTION
    assert stages[-1] is Stage.OUTCOME
    assert monitor.events[0].confidence == pytest.approx(0.6)
    outcome = monitor.events[-1].confidence
    tokens = parse_logprobs(_logprobs(-0.1, -0.2, -2.0, -1.5))
    assert outcome == pytest.approx(_combiner().predict(hybrid_inputs(0.6, 0.6, tokens, 2) or {}))


def test_combiner_files_round_trip_and_the_store_overrides(tmp_path: Path) -> None:
    path = write_hybrid(_calibration("gen-a"), tmp_path / "one.json")
    assert read_hybrid(path) == _calibration("gen-a")
    write_hybrid(_calibration("gen-a", window=4))  # into the store
    write_hybrid(HybridCalibration("hybrid:other", "gen-a", 2, _combiner()))
    found = load_hybrids(REF)
    assert list(found) == ["gen-a"]
    assert found["gen-a"].window == 4
    assert card_for_ref(REF).generators == ("gen-a",)
    assert load_hybrids(REF, tmp_path / "empty") == {}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"format": 9}, "format"),
        ({"scorer": "logprob:min_window"}, "scorer"),
        ({"window": 0}, "window"),
        ({"combiner": {"kind": "logistic"}}, "combiner"),
        ({"fit": []}, "fit"),
    ],
)
def test_a_broken_combiner_file_names_what_is_wrong(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**_calibration().to_dict(), **change}))
    with pytest.raises(GuardrailConfigError, match=f"bad.json: {named}|{named}"):
        read_hybrid(path)


def _graded(n: int, seed: int = 0) -> GradedFile:
    """Answers whose min-window logprob separates right from wrong; the readout does not."""
    rng = random.Random(seed)
    answers = []
    for i in range(n):
        correct = i % 2 == 0
        level = -0.1 if correct else -1.5
        values = [level + rng.uniform(-0.3, 0.3) for _ in range(4)]
        tokens = tuple(parse_logprobs(_logprobs(*values)))
        question = f"q{i % 7}?"
        answers.append(GradedAnswer(question, f"answer {i}", correct, (), tokens))
    return GradedFile(tuple(answers), "gen-a")


def test_fitting_learns_the_signal_that_separates() -> None:
    calibration = fit_hybrid(ScriptedScorer(_finece), REF, "gen-a", _graded(60))
    fit = calibration.fit
    assert fit["answers"] == 60
    assert fit["correct"] == 30
    assert fit["questions"] == 7
    assert fit["auroc"] > 0.95
    assert fit["auroc_by_feature"]["finece_outcome"] == pytest.approx(0.5)
    weights = dict(zip(calibration.combiner.features, calibration.combiner.coef, strict=True))
    assert weights["mean_logprob"] + weights["min_window"] > 0.5
    smaller = fit_hybrid(ScriptedScorer(_finece), REF, "gen-a", _graded(60), max_answers=20)
    assert smaller.fit["answers"] == 20


def test_fitting_needs_right_and_wrong_answers_with_logprobs() -> None:
    right = GradedFile(tuple(a for a in _graded(20).answers if a.correct), "gen-a")
    with pytest.raises(GuardrailConfigError, match="right and wrong"):
        fit_hybrid(ScriptedScorer(_finece), REF, "gen-a", right)
    bare = GradedFile((GradedAnswer("q", "a", True, ()),), "gen-a")
    with pytest.raises(GuardrailConfigError, match="no logprobs"):
        fit_hybrid(ScriptedScorer(_finece), REF, "gen-a", bare)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-6.0, -0.01), min_size=1, max_size=12), st.floats(0.01, 0.99))
def test_the_combined_estimate_is_a_probability(values: list[float], readout: float) -> None:
    tokens = parse_logprobs(_logprobs(*values))
    combined = _combiner().predict(hybrid_inputs(0.5, readout, tokens, 3) or {})
    assert 0.0 < combined < 1.0
    assert math.isfinite(combined)


def test_calibrate_cli_fits_a_combiner_for_a_local_finece_scorer(
    tmp_path: Path, tiny: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    torch.set_num_threads(1)
    model, tokenizer = tiny
    local = tmp_path / "tiny-scorer"
    model.save_pretrained(local)
    tokenizer.save_pretrained(local)
    graded = tmp_path / "graded.jsonl"
    rows = []
    for answer in _graded(24).answers:
        entries = [
            {"token": t.token, "logprob": t.logprob, "top_logprobs": []}
            for t in answer.tokens or ()
        ]
        rows.append(
            {"question": answer.question, "answer": answer.answer, "correct": answer.correct,
             "logprobs": entries}
        )  # fmt: skip
    graded.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ref = f"hybrid:{local}"
    argv = ["calibrate", "--scorer", ref, "--data", str(graded), "--model", "openai/gen-a"]
    features = tmp_path / "features.jsonl"
    assert main([*argv, "--json", "--features-out", str(features)]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["fit"]["answers"] == 24
    assert written["scorer"] == ref
    rows = [json.loads(line) for line in features.read_text().splitlines()]
    assert len(rows) == 24
    assert {r["group"] for r in rows} == {"graded.jsonl"}
    assert set(HYBRID_FEATURES) <= set(rows[0])
    assert isinstance(rows[0]["correct"], bool)
    scorer = create_scorer(ref, device="cpu")
    assert isinstance(scorer, HybridScorer)
    assert scorer.card.generators == ("openai/gen-a",)
    assert scorer.for_model("gen-a").calibration is not None
    assert main(["calibrate", "--scorer", "hybrid:", "--data", str(graded)]) == 2
    assert "hybrid:REF" in capsys.readouterr().err
