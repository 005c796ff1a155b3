"""Training-free logprob: scorers: the signals, sessions fed by the monitor, calibration."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail.calibration import PlattMap
from guardrail.entropy import TokenLogprobs
from guardrail.errors import GuardrailConfigError, ScorerUnavailableError
from guardrail.lab.evaluation import baselines
from guardrail.monitor import ConfidenceMonitor
from guardrail.scorers import create_scorer
from guardrail.scorers.calibrations import ModelCalibration, load_calibrations, write_calibration
from guardrail.scorers.logprob import LogprobScorer, is_logprob_ref, parse_logprob_ref
from guardrail.token_signals import (
    SIGNAL_NAMES,
    mean_logprob_confidence,
    min_window_confidence,
    signal_confidence,
)
from guardrail.triggers.config import CheckpointSettings, PeriodicTriggerSpec


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE", str(tmp_path / "cache"))


def entry(token: str, logprob: float, top: list[tuple[str, float]] | None = None) -> dict[str, Any]:
    """One OpenAI-shaped logprob entry."""
    alternatives = top if top is not None else [(token, logprob)]
    return {
        "token": token,
        "logprob": logprob,
        "top_logprobs": [{"token": t, "logprob": lp} for t, lp in alternatives],
    }


LOGPROBS = st.lists(
    st.floats(min_value=-30.0, max_value=0.0, allow_nan=False), min_size=1, max_size=60
)


@given(LOGPROBS, st.integers(min_value=1, max_value=20))
def test_signals_are_probabilities(values: list[float], window: int) -> None:
    tokens = [TokenLogprobs("t", v, (("t", v), ("u", min(v, -1.0)))) for v in values]
    for signal in SIGNAL_NAMES:
        value = signal_confidence(signal, tokens, window)
        assert value is not None
        assert 0.0 <= value <= 1.0
    # the lowest window is never above the best single token's probability
    worst = min_window_confidence(values, window)
    assert worst is not None
    assert worst <= math.exp(max(values)) + 1e-12


@given(LOGPROBS)
def test_mean_logprob_ignores_order_and_matches_the_baseline(values: list[float]) -> None:
    assert mean_logprob_confidence(values) == pytest.approx(
        mean_logprob_confidence(list(reversed(values)))
    )
    assert baselines.mean_logprob_confidence(values) == mean_logprob_confidence(values)


def test_no_tokens_no_signal() -> None:
    for signal in SIGNAL_NAMES:
        assert signal_confidence(signal, []) is None
    assert signal_confidence("min_window", [TokenLogprobs("x", None)]) is None


def test_refs_and_the_registry() -> None:
    assert is_logprob_ref("logprob:min_window")
    assert not is_logprob_ref("builtin:finece-smollm2")
    with pytest.raises(GuardrailConfigError, match="logprob:mean_logprob, logprob:min_window"):
        parse_logprob_ref("logprob:max_window")
    scorer = create_scorer("logprob:min_window", device="cpu")
    assert isinstance(scorer, LogprobScorer)
    assert scorer.name == "logprob:min_window"
    assert create_scorer("logprob:mean_entropy", backend="logprob").name == "logprob:mean_entropy"


def _monitor(scorer: Any, every: int = 2) -> ConfidenceMonitor:
    settings = CheckpointSettings(strategies=[PeriodicTriggerSpec(every=every)], min_gap=0)
    return ConfidenceMonitor(scorer, "What is 2 + 2?", settings)


def test_the_monitor_hands_each_tokens_logprobs_to_the_session() -> None:
    scorer = LogprobScorer("mean_logprob")
    monitor = _monitor(scorer)
    question = monitor.start()
    assert question is not None
    assert question.confidence == 0.5
    values = [-0.1, -2.0, -0.3, -0.05]
    events = [monitor.feed(tok, [entry(tok, lp)]) for tok, lp in zip("2 + ", values, strict=True)]
    process = [e for e in events if e is not None]
    assert process[0].confidence == pytest.approx(math.exp((-0.1 - 2.0) / 2))
    outcome = monitor.finish()
    assert outcome is not None
    assert outcome.confidence == pytest.approx(math.exp(sum(values) / 4))


def test_a_stream_without_logprobs_is_a_scorer_failure_not_a_number() -> None:
    monitor = _monitor(LogprobScorer("min_window"))
    monitor.start()
    monitor.feed("4")
    with pytest.raises(ScorerUnavailableError, match="came without any"):
        monitor.feed(".")


def test_text_only_scoring_needs_a_recompute() -> None:
    with pytest.raises(ScorerUnavailableError, match="recompute"):
        LogprobScorer("mean_logprob").score("q", "a")
    forced = LogprobScorer(
        "mean_logprob", recompute=lambda q, a: [TokenLogprobs(c, -1.0) for c in a]
    )
    assert forced.score_batch([("q", "ab"), ("q", "")]) == pytest.approx([math.exp(-1.0), 0.5])


def _calibration(model: str, coef: float = 2.0) -> ModelCalibration:
    return ModelCalibration(
        scorer="logprob:mean_logprob",
        model=model,
        window=16,
        platt=PlattMap(coef=coef, intercept=-1.0),
        fit={"base_rate": 0.25, "answers": 8},
    )


def test_each_model_gets_its_own_map_from_the_store() -> None:
    write_calibration(_calibration("openai/gpt-4o-mini"))
    write_calibration(_calibration("builtin:smollm2-135m-instruct", coef=1.0))
    assert sorted(load_calibrations("logprob:mean_logprob")) == [
        "builtin:smollm2-135m-instruct",
        "openai/gpt-4o-mini",
    ]
    scorer = create_scorer("logprob:mean_logprob")
    assert isinstance(scorer, LogprobScorer)
    assert scorer.card.generators == ("builtin:smollm2-135m-instruct", "openai/gpt-4o-mini")
    tokens = [TokenLogprobs("a", -0.5)]
    raw = math.exp(-0.5)
    # a provider prefix or a hub alias names the same model
    gpt = scorer.for_model("gpt-4o-mini")
    smol = scorer.for_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert gpt.score_tokens(tokens) == pytest.approx(PlattMap(2.0, -1.0).apply_list([raw])[0])
    assert smol.score_tokens(tokens) == pytest.approx(PlattMap(1.0, -1.0).apply_list([raw])[0])
    assert gpt.score_tokens([]) == 0.25  # the graded file's base rate before any token
    assert scorer.for_model("claude-3-haiku").score_tokens(tokens) == pytest.approx(raw)


def test_a_broken_calibration_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "min_window.x.json"
    bad.write_text(json.dumps({"format": 1, "scorer": "logprob:min_window", "model": "x"}))
    with pytest.raises(GuardrailConfigError, match="window"):
        load_calibrations("logprob:min_window", tmp_path)
    other = tmp_path / "c.json"
    write_calibration(_calibration("m"), other)
    with pytest.raises(GuardrailConfigError, match="not of logprob:min_window"):
        LogprobScorer.from_ref("logprob:min_window", calibration=str(other))


def test_an_unnamed_model_is_an_uncalibrated_mismatch() -> None:
    from guardrail.scorers.card import ScorerMismatchWarning, check_model

    write_calibration(_calibration("openai/gpt-4o-mini"))
    scorer = create_scorer("logprob:mean_logprob")
    with pytest.warns(ScorerMismatchWarning, match="unnamed model"):
        assert check_model(scorer, "") is True
    assert check_model(scorer, "gpt-4o-mini") is False


def test_a_text_scorer_recomputes_through_the_generator_and_binds_its_map() -> None:
    from guardrail.scorers import create_text_scorer

    write_calibration(_calibration("openai/gpt-4o-mini"))
    seen: list[tuple[str, str]] = []

    class Source:
        def token_logprobs(self, prompt: str, answer: str) -> list[TokenLogprobs]:
            seen.append((prompt, answer))
            return [TokenLogprobs(answer, -0.5)]

    scorer = create_text_scorer(
        "logprob:mean_logprob",
        generator="gpt-4o-mini",
        load_generator=Source,
        prompt=lambda question: f"Q: {question}\nA:",
    )
    expected = PlattMap(2.0, -1.0).apply_list([math.exp(-0.5)])[0]
    assert scorer.score("2+2?", "4") == pytest.approx(expected)
    assert seen == [("Q: 2+2?\nA:", "4")]


def test_a_text_scorer_that_reads_no_logprobs_never_loads_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from guardrail import scorers
    from guardrail.testing import ScriptedScorer

    built = ScriptedScorer([0.7])
    monkeypatch.setitem(scorers.SCORER_BACKENDS, "scripted", lambda model, **options: built)

    def load() -> Any:
        raise AssertionError("the generator was loaded")

    scorer = scorers.create_text_scorer(
        "artifacts/x", generator="m", load_generator=load, prompt=str, backend="scripted"
    )
    assert scorer is built
    assert scorer.score("q", "a") == 0.7
