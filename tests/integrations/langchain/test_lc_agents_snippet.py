"""The documented middleware order (docs/snippets/agents_middleware.py), run as written.

The snippet is loaded from its file and built with scripted models and a scripted scorer: a
retry decision calls the same model again, only escalate/abort reach the fallback model, and
when ``ModelRetryMiddleware`` gives up its error answer carries the guard's record.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from lc_fakes import scripted_policy

import guardrail.scorers
from guardrail.integrations.langchain import METADATA_KEY
from guardrail.testing import ScriptedScorer, ScriptedToolCallingChat

ROOT = Path(__file__).resolve().parents[3]
SNIPPET = ROOT / "docs" / "snippets" / "agents_middleware.py"
QUESTION = "What is 6 * 7?"
WEAK = "Step one.\nStep two.\nAnswer: 41"
GOOD = "Answer: 42"


def load_snippet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agents_middleware", SNIPPET)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the policy's scorer a script: the weak answer's second paragraph is low."""

    def confidence(question: str, answer: str) -> float:
        return 0.1 if answer.startswith("Step one.\nStep two.") else 0.9

    monkeypatch.setattr(
        guardrail.scorers, "scorer_for_settings", lambda settings: ScriptedScorer(confidence)
    )
    # LangChain's retry middleware sleeps between attempts (1 s, then 2 s): not in tests
    monkeypatch.setattr("langchain.agents.middleware.model_retry.time.sleep", lambda s: None)


def run(policy: dict[str, Any], primary: list[str], fallback: list[str]) -> tuple[Any, ...]:
    model = ScriptedToolCallingChat(script=primary, model="primary")
    backup = ScriptedToolCallingChat(script=fallback, model="backup")
    agent = load_snippet().build_agent(model, backup, [], policy)
    state = agent.invoke({"messages": [{"role": "user", "content": QUESTION}]})
    return state["messages"][-1], len(model.calls), len(backup.calls)


@pytest.mark.usefixtures("scored")
def test_a_retry_decision_calls_the_same_model_again() -> None:
    policy = scripted_policy({"type": "retry"})
    answer, primary, backup = run(policy, [WEAK, GOOD], [GOOD])
    assert (primary, backup) == (2, 0)
    assert answer.content == GOOD
    assert answer.response_metadata[METADATA_KEY]["status"] == "ok"
    summary = answer.response_metadata[METADATA_KEY]["summary"]  # accepted answers carry it
    assert (summary["status"], summary["actions"]) == ("ok", [])
    assert summary["final_confidence"] == 0.9


@pytest.mark.usefixtures("scored")
def test_escalate_and_abort_go_to_the_fallback_model() -> None:
    for action in ({"type": "escalate", "targets": ["backup"]}, {"type": "abort"}):
        answer, primary, backup = run(scripted_policy(action), [WEAK], [GOOD])
        assert (primary, backup) == (1, 1), action
        assert answer.content == GOOD


@pytest.mark.usefixtures("scored")
def test_when_the_retry_middleware_gives_up_its_answer_carries_the_guard_record() -> None:
    policy = scripted_policy({"type": "retry"})
    answer, primary, backup = run(policy, [WEAK, WEAK, WEAK], [GOOD])
    assert (primary, backup) == (3, 0)  # max_retries=2: three calls, no fallback
    assert isinstance(answer, AIMessage)
    assert "LowConfidenceError" in str(answer.content)  # the retry middleware's error text
    record = answer.response_metadata[METADATA_KEY]
    assert record["status"] == "unresolved"
    assert record["question"] == QUESTION
    assert [(a["type"], a["rule"]) for a in record["actions"]] == [("retry", "low")]
    assert record["final_confidence"] is not None
    summary = record["summary"]
    assert summary["status"] == "unresolved"
    assert summary["actions"][0]["outcome"].startswith("raised LowConfidenceError")


def test_the_agents_page_includes_the_snippet_file() -> None:
    page = (ROOT / "docs" / "agents.md").read_text(encoding="utf-8")
    assert '--8<-- "snippets/agents_middleware.py"' in page
