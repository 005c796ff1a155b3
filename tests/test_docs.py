"""The documentation runs: every snippet the site includes, and the README's example.

The snippets in ``docs/snippets/`` are the code of the quickstart pages (included with
``pymdownx.snippets``, so a page shows exactly what runs here). They are written for the real
embedded model and scorer; here they run with the project's fakes in their place
(``FakeStreamingChatModel`` for ``ChatLocalModel``, ``ScriptedToolCallingChat`` for
``ChatLiteLLM``, a ``ScriptedScorer`` for the policy's
scorer, the tiny random Llama behind the litellm provider), each scripted to take the path the
page describes, and each asserts on what the snippet prints.
"""

from __future__ import annotations

import re
import runpy
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"

ANSWER = (
    "17 * 3 means three times seventeen, so I add seventeen three times here.\n\n"
    "Three times ten is 30 and three times seven is 21, which I add up now.\n\n"
    "So 17 * 3 = 51."
)


def confident(question: str, answer: str) -> float:
    return 0.9


def doubtful_outcome(question: str, answer: str) -> float:
    """High while the answer is written, 0.3 once it is complete (the outcome checkpoint)."""
    return 0.3 if answer.rstrip().endswith("= 51.") else 0.9


def weak_reasoning(question: str, answer: str) -> float:
    """Low from the first paragraph on: the default policy's ``weak-reasoning`` rule fires."""
    return 0.2 if answer else 0.9


def held_tool_call(question: str, answer: str) -> float:
    """0.5 everywhere: below the tool-call hold threshold (0.8), above the refusal one (0.3)."""
    return 0.5


@dataclass(frozen=True)
class Case:
    """How a snippet is run: the scorer's script and what it must print."""

    scorer: Callable[[str, str], float]
    prints: tuple[str, ...]


CASES: dict[str, Case] = {
    "langchain_guard.py": Case(confident, ("So 17 * 3 = 51.", "ok 0.9")),
    "langchain_callback.py": Case(weak_reasoning, ("[stopped: retry]", "process paragraph 0.2")),
    "agents_quickstart.py": Case(
        doubtful_outcome, ("review requested: weak-outcome 0.3", "So 17 * 3 = 51.", "approved")
    ),
    "langgraph_review.py": Case(doubtful_outcome, ("review:", "51 pending_review edit")),
    "agents_stream.py": Case(confident, ("status: ok", "So 17 * 3 = 51.")),
    "agents_tools.py": Case(
        held_tool_call,
        (
            "held: send_email {'to': 'alice', 'body': 'moved'}",
            "ToolMessage sent to alice@example.com",
            "AIMessage Done.",
        ),
    ),
    "litellm_sdk.py": Case(confident, ("ok 0.9", "[]")),
    "litellm_provider.py": Case(confident, ("5 alternatives",)),
    "litellm_stream.py": Case(confident, ("status: ok confidence: 0.9",)),
    "policy_check.py": Case(confident, ("weak-billing-answer human_review", "because tags")),
    "errors_catch.py": Case(
        doubtful_outcome,
        ("did you mean 'confidence_below'?", "aborted by rule weak", "record: aborted"),
    ),
}


@pytest.fixture
def fakes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny: tuple[Any, Any]
) -> Iterator[Callable[[Case], None]]:
    """Put the fakes in place of the embedded model and the policy's scorer, in ``tmp_path``."""
    import langchain_litellm
    import litellm
    from langchain_core.messages import AIMessage

    from guardrail import scorers
    from guardrail.generation import LocalGenerator
    from guardrail.integrations.langchain import chat_model
    from guardrail.integrations.litellm import MODEL_ALIASES, register_local_provider
    from guardrail.testing import FakeStreamingChatModel, ScriptedScorer, ScriptedToolCallingChat

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(litellm, "suppress_debug_info", True)
    for policy in SNIPPETS.glob("*.yaml"):  # the snippets read their policy files by name
        shutil.copy(policy, tmp_path / policy.name)
    monkeypatch.setenv("GUARDRAIL_REVIEW_DB", str(tmp_path / "review.db"))
    monkeypatch.setenv("GUARDRAIL_AUDIT_LOG", str(tmp_path / "audit.jsonl"))

    def chat_local_model(**options: Any) -> FakeStreamingChatModel:
        return FakeStreamingChatModel(responses=[ANSWER], when_exhausted="cycle")

    monkeypatch.setattr(chat_model, "ChatLocalModel", chat_local_model)

    def tool_calling_model(**options: Any) -> ScriptedToolCallingChat:
        call = {"name": "send_email", "args": {"to": "alice", "body": "moved"}, "id": "call-1"}
        turn = AIMessage(content="I will email Alice.", tool_calls=[call])
        return ScriptedToolCallingChat(script=[turn, "Done."])

    monkeypatch.setattr(langchain_litellm, "ChatLiteLLM", tool_calling_model)
    model, tokenizer = tiny
    provider = register_local_provider()
    provider.add_model("smollm2", LocalGenerator(model, tokenizer, name="smollm2"))

    def use(case: Case) -> None:
        scorer = ScriptedScorer(case.scorer)
        monkeypatch.setattr(scorers, "scorer_for_settings", lambda settings: scorer)

    yield use
    provider.add_model("smollm2", MODEL_ALIASES["smollm2"])


def run_code(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out


TESTED_ELSEWHERE = {
    # the documented middleware order, run with its routing (retry, fallback, give-up)
    "agents_middleware.py": "tests/integrations/langchain/test_lc_agents_snippet.py",
}
"""Snippets that define functions a test of their own calls with scripted models."""


@pytest.mark.parametrize("name", sorted(CASES))
def test_snippet_runs_and_prints_what_the_page_says(
    name: str, fakes: Callable[[Case], None], capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    fakes(case)
    out = run_code(SNIPPETS / name, capsys)
    for expected in case.prints:
        assert expected in out, f"{name} printed:\n{out}"


def test_every_snippet_has_a_case_and_a_page() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    untested = files - set(CASES) - set(TESTED_ELSEWHERE)
    assert not untested, f"snippets no test runs (add them to CASES): {sorted(untested)}"
    assert set(CASES) <= files, f"CASES names missing snippets: {sorted(set(CASES) - files)}"
    for name, test in TESTED_ELSEWHERE.items():
        if name in files:
            assert (ROOT / test).exists(), f"{name} is said to be tested by {test}"
    pages = "\n".join(path.read_text() for path in DOCS.rglob("*.md"))
    included = set(re.findall(r'--8<-- "(?:docs/)?snippets/([^"]+)"', pages))
    missing = {name for name in files if name not in included}
    assert not missing, f"snippets no page includes: {sorted(missing)}"


def readme_example() -> str:
    """The README's first Python block after its ``## Example`` heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README's Example section has no python block"
    return match.group(1)


def test_readme_example_runs(
    fakes: Callable[[Case], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = readme_example()
    assert len(code.splitlines()) <= 25, "the README's example stays short"
    fakes(Case(confident, ()))
    script = tmp_path / "readme_example.py"
    script.write_text(code)
    out = run_code(script, capsys)
    assert "So 17 * 3 = 51." in out
    assert "ok 0.9" in out


def documented(page: str, marker: str) -> set[str]:
    """The backticked names in the first column of the table after ``<!-- keys: marker -->``."""
    text = (DOCS / page).read_text()
    table = text.split(f"<!-- keys: {marker} -->", 1)[1].strip().split("\n\n", 1)[0]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        names.update(re.findall(r"`([^`]+)`", row.split("|")[1]))
    return names


@pytest.fixture
def sample_record(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A guarded call that flags, then asks for a review: every record part is filled in."""
    from guardrail.audit import open_audit_log
    from guardrail.integrations.langchain import GuardrailCallbackHandler, guard
    from guardrail.review import ReviewQueue
    from guardrail.testing import FakeStreamingChatModel, ScriptedScorer

    model = FakeStreamingChatModel(responses=[ANSWER], when_exhausted="cycle")
    scorer = ScriptedScorer(doubtful_outcome)
    log = tmp_path / "audit.jsonl"
    queue = ReviewQueue(path=tmp_path / "review.db")
    result = guard(model, "default", scorer, review=queue, audit=open_audit_log(log)).invoke("Q?")
    handler = GuardrailCallbackHandler("default", scorer)
    model.invoke("Q?", {"callbacks": [handler]})
    return result, handler.runs[-1].summary(), log


def test_the_record_page_lists_every_key_and_status(sample_record: Any) -> None:
    import json
    from typing import get_args

    from guardrail.audit import AuditKind, AuditRecord
    from guardrail.runtime import GuardStatus

    result, summary, log = sample_record
    record = result.to_dict()
    assert documented("reference/records.md", "status") == set(get_args(GuardStatus))
    assert documented("reference/records.md", "result") == set(record)
    assert documented("reference/records.md", "attempt") == set(record["attempts"][0])
    assert documented("reference/records.md", "checkpoint") == set(
        record["attempts"][0]["events"][0]
    )
    assert documented("reference/records.md", "decision") == set(
        record["attempts"][0]["decisions"][0]
    )
    assert documented("reference/records.md", "action") == set(record["actions"][0])
    assert documented("reference/records.md", "summary") == set(summary)
    assert documented("reference/records.md", "guard-summary") == set(result.summary())
    assert set(result.summary()["actions"][0]) == {"type", "rule", "outcome"}
    assert documented("reference/records.md", "audit") == set(AuditRecord.model_fields)
    assert documented("reference/records.md", "audit-kind") == {kind.value for kind in AuditKind}
    from guardrail.integrations.langchain.tool_calls import ToolCallStatus, ToolCallVerdict

    assert documented("reference/records.md", "tool-call") == set(ToolCallVerdict.__annotations__)
    assert documented("reference/records.md", "tool-call-status") == set(get_args(ToolCallStatus))
    kinds = {json.loads(line)["kind"] for line in log.read_text().splitlines()}
    assert {"run_start", "checkpoint", "decision", "action", "run_end"} <= kinds


ERROR_ROW = re.compile(r"^\| `(\w+)` \| `([\w.]+)` \|", re.MULTILINE)


def test_every_error_imports_from_where_the_page_says() -> None:
    import importlib

    from guardrail.errors import GuardrailError

    rows = ERROR_ROW.findall((DOCS / "reference/errors.md").read_text())
    assert rows, "no error rows found in docs/reference/errors.md"
    for name, module in rows:
        error = getattr(importlib.import_module(module), name, None)
        assert isinstance(error, type), f"from {module} import {name} fails"
        assert issubclass(error, GuardrailError), f"{module}.{name} is not a GuardrailError"


def test_the_framework_errors_the_page_names_exist() -> None:
    import importlib

    page = (DOCS / "reference/errors.md").read_text().split("<!-- other errors -->", 1)[1]
    table = page.strip().split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([\w.]+)\.(\w+)` \|", table, re.MULTILINE)
    assert len(rows) == len(table.splitlines()) - 2, "a row of the table was not read"
    for module, name in rows:
        error = getattr(importlib.import_module(module), name, None)
        assert isinstance(error, type), f"{module}.{name} does not exist"
        assert issubclass(error, Exception), f"{module}.{name} is not an exception"


def test_every_error_class_of_the_guard_is_on_the_page() -> None:
    import importlib

    from guardrail.errors import GuardrailError

    for module in PUBLIC_MODULES:
        importlib.import_module(module)
    listed = {name for name, _ in ERROR_ROW.findall((DOCS / "reference/errors.md").read_text())}
    pending = [GuardrailError]
    found: set[str] = set()
    while pending:
        for error in pending.pop().__subclasses__():
            pending.append(error)
            if not error.__name__.startswith("_") and not error.__module__.startswith(
                "guardrail.lab"
            ):
                found.add(error.__name__)
    assert found - listed == set(), "errors missing from docs/reference/errors.md"


PUBLIC_MODULES = (
    "guardrail",
    "guardrail.runtime",
    "guardrail.review",
    "guardrail.audit",
    "guardrail.monitor",
    "guardrail.scorers.remote",
    "guardrail.integrations.langchain",
    "guardrail.integrations.langgraph",
    "guardrail.integrations.litellm",
    "guardrail.testing.postgres",
)
"""Modules whose error classes users meet (imported so that every subclass is defined)."""


def policy_reference() -> Any:
    """docs/gen_policy_reference.py, imported from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_policy_reference", DOCS / "gen_policy_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_policy_reference_is_generated_from_the_current_schema() -> None:
    generator = policy_reference()
    assert generator.PAGE.read_text() == generator.render(), (
        "docs/reference/policy.md is stale: run python docs/gen_policy_reference.py"
    )


def test_every_example_of_the_policy_reference_loads_as_a_policy() -> None:
    from guardrail import Policy

    generator = policy_reference()
    for key, (_, when) in generator.CONDITIONS.items():
        policy = Policy.from_text(generator.rule_yaml(when, "flag"), source=f"condition {key}")
        assert policy.rules[0].when.model_dump(by_alias=True).get(key) is not None, key
    for kind, action in generator.ACTIONS.items():
        policy = Policy.from_text(
            generator.rule_yaml("{stage: outcome}", action), source=f"action {kind}"
        )
        assert policy.rules[0].action.type == kind


def test_the_proxy_config_names_a_guardrail_the_proxy_can_build(
    fakes: Callable[[Case], None], tmp_path: Path
) -> None:
    import importlib

    import yaml

    from guardrail.integrations.litellm import LocalModelProvider

    fakes(Case(confident, ()))
    config = yaml.safe_load((SNIPPETS / "litellm_proxy.yaml").read_text())
    (entry,) = config["guardrails"]
    params = dict(entry["litellm_params"])
    module, _, name = params.pop("guardrail").rpartition(".")
    guardrail_class = getattr(importlib.import_module(module), name)
    mode, default_on = params.pop("mode"), params.pop("default_on")
    built = guardrail_class(
        guardrail_name=entry["guardrail_name"], event_hook=mode, default_on=default_on, **params
    )
    assert built.guardrail_name == "finece"
    assert built.config.policy.name == "default"
    (handler,) = config["litellm_settings"]["custom_provider_map"]
    module, _, name = handler["custom_handler"].rpartition(".")
    provider = getattr(importlib.import_module(module), name)
    assert isinstance(provider, LocalModelProvider)
    served = {entry["litellm_params"]["model"] for entry in config["model_list"]}
    assert f"{handler['provider']}/smollm2" in served


@pytest.mark.parametrize(
    ("module", "page"),
    [
        ("guardrail", "api/core.md"),
        ("guardrail.integrations.langchain", "api/integrations.md"),
        ("guardrail.integrations.langgraph", "api/integrations.md"),
        ("guardrail.integrations.litellm", "api/integrations.md"),
    ],
)
def test_every_public_class_and_function_has_an_api_entry(module: str, page: str) -> None:
    import importlib
    import inspect

    public = importlib.import_module(module)
    entries = set(re.findall(r"^::: [\w.]+\.(\w+)$", (DOCS / page).read_text(), re.MULTILINE))
    names = {
        name
        for name in public.__all__
        if inspect.isclass(getattr(public, name)) or inspect.isfunction(getattr(public, name))
    }
    assert names - entries == set(), f"{module} names without an entry in docs/{page}"


def test_every_cli_command_is_on_the_command_line_page() -> None:
    import argparse

    from guardrail.cli import build_parser

    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    page = (DOCS / "reference/cli.md").read_text().split("<!-- commands -->", 1)[1]
    listed = set(re.findall(r"^\| `guardrail (\w+)` \|", page, re.MULTILINE))
    assert listed == set(commands.choices), "docs/reference/cli.md and the CLI's commands differ"


def test_every_extra_the_docs_name_exists() -> None:
    import tomllib

    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    named = {
        (page.relative_to(ROOT).as_posix(), extra)
        for page in pages
        for group in re.findall(r"finece-guardrail\[([a-z][\w,-]*)\]", page.read_text())
        for extra in group.split(",")
    }
    unknown = sorted((page, extra) for page, extra in named if extra not in extras)
    assert not unknown, f"extras not in pyproject.toml: {unknown}"
