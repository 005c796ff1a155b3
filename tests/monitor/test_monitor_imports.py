"""Pin the public API of the monitor's modules."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "guardrail.monitor": [
        "DEFAULT_BCI",
        "DEFAULT_CHECKPOINTS",
        "ConfidenceMonitor",
        "FutureSampler",
        "MonitorStateError",
        "OverloadMode",
        "SkippedCheckpoint",
    ],
    "guardrail.bci": ["BCINode", "integrate", "integrate_paths", "integrate_tree"],
    "guardrail.entropy": ["TokenLogprobs", "logprobs_entropy", "parse_logprobs", "top_k_entropy"],
    "guardrail.testing.scorers": ["ScoreCall", "ScriptedScorer", "ScriptedSession"],
    "guardrail.triggers": [
        "TRIGGER_TYPES",
        "AnswerText",
        "BCISettings",
        "CheckpointSettings",
        "CheckpointTrigger",
        "EntropySource",
        "EntropyTrigger",
        "EntropyTriggerSpec",
        "ParagraphTrigger",
        "ParagraphTriggerSpec",
        "PeriodicTrigger",
        "PeriodicTriggerSpec",
        "SpecTrigger",
        "Trigger",
        "TriggerSpec",
        "build_trigger",
        "create_trigger",
        "trigger_class",
    ],
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_public_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(EXPECTED[module_name])
    for name in module.__all__:
        assert hasattr(module, name), name
