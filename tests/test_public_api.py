"""The public API is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import guardrail

EXPECTED = {
    "BCISettings", "CheckpointEvent", "CheckpointSettings", "ConfidenceMonitor", "Decision",
    "FineCEScorer", "GuardSignal", "GuardrailConfigError", "GuardrailError",
    "GuardrailRuntimeError", "MissingExtraError", "ModelUnavailableError", "Policy",
    "PolicyEngine", "RunContext", "Scorer", "ScorerTimeoutError", "ScorerUnavailableError",
    "ScoringSession", "Stage", "__version__", "create_scorer", "load_model", "load_preset",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(guardrail.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in guardrail.__all__:
        assert getattr(guardrail, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = guardrail.NoSuchThing  # type: ignore[attr-defined]


def test_import_and_policy_loading_stay_light() -> None:
    code = (
        "import sys, guardrail\n"
        "p = guardrail.load_preset('default')\n"
        "guardrail.PolicyEngine(p); guardrail.ConfidenceMonitor\n"
        "heavy = ('torch', 'transformers', 'langchain_core', 'litellm')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
