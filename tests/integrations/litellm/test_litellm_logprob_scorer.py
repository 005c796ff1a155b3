"""A guarded litellm call whose policy names a logprob: scorer uses the provider's logprobs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import litellm
import pytest
from lt_fakes import MESSAGES, Recorder

from guardrail.calibration import PlattMap
from guardrail.entropy import parse_logprobs
from guardrail.generation import LocalGenerator
from guardrail.integrations.litellm import guarded_completion, register_local_provider
from guardrail.integrations.litellm._request import CompletionRequest
from guardrail.scorers.calibrations import ModelCalibration, write_calibration
from guardrail.scorers.card import ScorerMismatchWarning
from guardrail.token_signals import min_window_confidence

POLICY: dict[str, Any] = {
    "name": "logprob-guard",
    "scorer": {"model": "logprob:min_window"},
    "checkpoints": {"strategies": [{"type": "periodic", "every": 3}], "min_gap": 0},
    "rules": [{"name": "never", "when": {"confidence_below": 0.0}, "action": "abort"}],
    "default_action": "continue",
}
SAMPLED: dict[str, Any] = {"temperature": 1.0, "seed": 3, "max_tokens": 9}


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(litellm, "completion", recorder.completion)
    return recorder


def test_the_policy_scorer_reads_the_providers_logprobs(
    tiny_generator: LocalGenerator, recorder: Recorder
) -> None:
    register_local_provider({"tiny": tiny_generator})
    with pytest.warns(ScorerMismatchWarning, match="guardrail calibrate"):
        result = guarded_completion(
            model="guardrail-local/tiny", messages=MESSAGES, policy=POLICY, **SAMPLED
        )
    assert recorder.calls[0]["logprobs"] is True
    assert recorder.calls[0]["top_logprobs"] == 5
    tokens = parse_logprobs(result.output.choices[0].logprobs.model_dump())
    logprobs = [t.logprob for t in tokens if t.logprob is not None]
    outcome = result.events[-1]
    assert outcome.stage.value == "outcome"
    assert outcome.confidence == pytest.approx(min_window_confidence(logprobs))
    assert all(event.scorer_mismatch is True for event in result.events)  # uncalibrated


def test_a_calibrated_model_gets_its_map(
    tiny_generator: LocalGenerator, recorder: Recorder
) -> None:
    register_local_provider({"tiny": tiny_generator})
    platt = PlattMap(coef=0.5, intercept=0.3)
    write_calibration(
        ModelCalibration(
            "logprob:min_window", "guardrail-local/tiny", 16, platt, {"base_rate": 0.4}
        )
    )
    result = guarded_completion(
        model="guardrail-local/tiny", messages=MESSAGES, policy=POLICY, **SAMPLED
    )
    tokens = parse_logprobs(result.output.choices[0].logprobs.model_dump())
    raw = min_window_confidence([t.logprob for t in tokens if t.logprob is not None])
    assert raw is not None
    assert math.isfinite(raw)
    assert result.events[-1].confidence == pytest.approx(platt.apply_list([raw])[0])
    assert all(event.scorer_mismatch is False for event in result.events)


def test_logprobs_are_asked_even_where_litellm_thinks_they_are_unsupported() -> None:
    model = "anthropic/claude-3-5-sonnet-20240620"
    plain = CompletionRequest(model=model, messages=list(MESSAGES))
    assert plain.logprob_params(model, {}) == {}
    needed = CompletionRequest(model=model, messages=list(MESSAGES), require_logprobs=True)
    assert needed.logprob_params(model, {}) == {"logprobs": True, "top_logprobs": 5}
    assert needed.logprob_params(model, {"logprobs": False}) == {}  # the caller decides
