import subprocess
import sys

import guardrail.policy
from guardrail.cli import build_parser

EXPECTED_ALL = {
    "DECISION_LOGGER_NAME",
    "AbortAction",
    "Action",
    "Backoff",
    "Condition",
    "ContinueAction",
    "Decision",
    "EscalateAction",
    "FlagAction",
    "HumanReviewAction",
    "Policy",
    "PolicyEngine",
    "RetryAction",
    "Rule",
    "RunContext",
    "ScorerSettings",
    "SelfCorrectAction",
    "explain",
    "list_presets",
    "load_preset",
    "schema_json",
}


def test_public_api_is_pinned() -> None:
    assert set(guardrail.policy.__all__) == EXPECTED_ALL
    for name in EXPECTED_ALL:
        assert getattr(guardrail.policy, name) is not None


def test_policy_import_stays_light() -> None:
    code = (
        "import sys\n"
        "import guardrail.policy as p\n"
        "import guardrail.cli.policy\n"
        "from guardrail.events import CheckpointEvent, Stage\n"
        "policy = p.load_preset('default')\n"
        "event = CheckpointEvent(0, Stage.QUESTION, 'q', 0, 0, 0, 0.1, 0.1)\n"
        "p.PolicyEngine(policy).decide(event, p.RunContext())\n"
        "p.explain(policy); p.schema_json()\n"
        "heavy = {'torch', 'transformers', 'langchain', 'langchain_core', 'langgraph', 'litellm'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_cli_registers_policy_command() -> None:
    args = build_parser().parse_args(["policy", "validate", "a.yaml", "b.yaml"])
    assert args.files == ["a.yaml", "b.yaml"]
    assert callable(args.func)
