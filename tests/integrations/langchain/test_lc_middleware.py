"""FineCEMiddleware in real ``create_agent`` agents with two tools (GenericFakeChatModel)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ModelFallbackMiddleware, ModelRetryMiddleware
from langchain_core.exceptions import ModelError
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from lc_fakes import scripted_policy
from pydantic import Field

import guardrail.integrations.langchain as lc
from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.integrations.langchain import METADATA_KEY, FineCEMiddleware, LowConfidenceError
from guardrail.review import SQLiteReviewQueue
from guardrail.runtime import GuardAborted
from guardrail.testing.scorers import ScriptedScorer

QUESTION = "What is 6 * 7?"
FIRST = "Step one.\nStep two.\nAnswer: 41"
SECOND = "Let me redo it.\nAnswer: 42"
NO_WAIT = {"initial_s": 0.0, "max_s": 0.0}
RETRY = scripted_policy({"type": "retry", "temperature": 0.3, "backoff": NO_WAIT})
FAILS_AT_2 = [0.9, 0.2]  # FIRST's second paragraph is low
PASSES_2 = [0.9, 0.9]  # SECOND: one process checkpoint and the outcome


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [add, multiply]


def call_tool(name: str, text: str = "", **args: int) -> AIMessage:
    call = {"name": name, "args": args, "id": f"call-{name}"}
    return AIMessage(content=text, tool_calls=[call])


class ToolCallingFake(GenericFakeChatModel):
    """langchain-core's GenericFakeChatModel, made usable by ``create_agent``.

    GenericFakeChatModel cannot ``bind_tools`` and drops a message's tool calls when it streams;
    this subclass binds tools as a no-op and streams tool calls as ``tool_call_chunks``. It
    records the messages and call options of every call.
    """

    model_name: str = "fake-small"
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    options: list[dict[str, Any]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(**{k: v for k, v in kwargs.items() if k != "tool_choice"})

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        self.calls.append(list(messages))
        self.options.append(dict(kw))
        message = self._generate(messages).generations[0].message
        assert isinstance(message, AIMessage)
        for token in re.split(r"(\s)", str(message.content)):
            if token:
                yield ChatGenerationChunk(message=AIMessageChunk(content=token))
        if message.tool_calls:
            chunks = [
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                for i, c in enumerate(message.tool_calls)
            ]
            chunk = AIMessageChunk(content="", tool_call_chunks=chunks, chunk_position="last")
            yield ChatGenerationChunk(message=chunk)


def fake(*messages: AIMessage | str, name: str = "fake-small") -> ToolCallingFake:
    return ToolCallingFake(messages=iter(messages), model_name=name)


def agent_with(model: ToolCallingFake, *middleware: Any, **options: Any) -> Any:
    return create_agent(model, TOOLS, middleware=list(middleware), **options)


def ask(*history: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text} for text in history or (QUESTION,)]}


def guarded(policy: Any, script: list[float], **options: Any) -> FineCEMiddleware:
    return FineCEMiddleware(
        policy, ScriptedScorer(script), sleep=lambda s: None, rng=lambda: 0.0, **options
    )


def summary(message: BaseMessage) -> dict[str, Any]:
    found = message.response_metadata.get(METADATA_KEY)
    assert isinstance(found, dict), message
    return found


# ------------------------------------------------------------------ act inside the call
def test_retry_inside_the_call_and_tool_turns_are_not_answers() -> None:
    model = fake(call_tool("multiply", "Let me use the tool.", a=6, b=7), FIRST, SECOND)
    middleware = guarded(RETRY, FAILS_AT_2 + PASSES_2)
    state = agent_with(model, middleware).invoke(ask())
    messages = state["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert messages[2].content == "42"  # the multiply tool ran
    assert messages[-1].content == SECOND
    record = summary(messages[-1])
    assert record["status"] == "ok"
    assert [a["type"] for a in record["actions"]] == ["retry"]
    assert [(a["attempt"], a["kind"], a["partial"]) for a in record["attempts"]] == [
        (1, "initial", True),
        (2, "retry", False),
    ]
    tool_turn = summary(messages[1])  # judged (no process checkpoint fell), never outcome-scored
    assert tool_turn["status"] == "ok"
    assert tool_turn["attempts"][0]["answer"] == "Let me use the tool."
    assert tool_turn["attempts"][0]["events"] == []
    scorer = middleware.config.scorer
    assert isinstance(scorer, ScriptedScorer)
    assert {call.question for call in scorer.calls} == {QUESTION}
    assert [call.answer for call in scorer.calls] == [
        "Step one.\n",
        "Step one.\nStep two.\n",
        "Let me redo it.\n",
        SECOND,
    ]
    assert [o.get("temperature") for o in model.options] == [None, None, 0.3]


async def test_async_invoke_retries_inside_the_call() -> None:
    model = fake(call_tool("add", a=40, b=2), FIRST, SECOND)
    state = await agent_with(model, guarded(RETRY, FAILS_AT_2 + PASSES_2)).ainvoke(ask())
    assert state["messages"][2].content == "42"
    assert state["messages"][-1].content == SECOND
    assert summary(state["messages"][-1])["status"] == "ok"
    assert len(model.calls) == 3


def test_the_question_is_the_last_human_message() -> None:
    middleware = guarded(scripted_policy("continue"), [0.9, 0.9, 0.9])
    agent_with(fake(FIRST), middleware).invoke(ask("Hello there.", QUESTION))
    scorer = middleware.config.scorer
    assert isinstance(scorer, ScriptedScorer)
    assert {call.question for call in scorer.calls} == {QUESTION}


def test_stream_shows_both_attempts_and_writes_markers_to_the_custom_stream() -> None:
    agent = agent_with(fake(FIRST, SECOND), guarded(RETRY, FAILS_AT_2 + PASSES_2))
    tokens: list[str] = []
    markers: list[dict[str, Any]] = []
    for mode, data in agent.stream(ask(), stream_mode=["messages", "custom"]):
        if mode == "messages":
            tokens.append(str(data[0].content))
        else:
            markers.append(data[METADATA_KEY])
    assert "".join(tokens).startswith("Step one.\nStep two.\n")  # the cut attempt was shown
    assert "".join(tokens).endswith(SECOND)
    assert [m["marker"] for m in markers] == ["restart", "final"]
    assert markers[0]["action"] == "retry"
    assert markers[-1]["status"] == "ok"


def test_a_replaced_answer_is_taken_back_in_the_custom_stream() -> None:
    policy = scripted_policy({"type": "abort", "fallback_answer": "I am not sure."})
    agent = agent_with(fake(FIRST), guarded(policy, FAILS_AT_2))
    markers = [d[METADATA_KEY] for _, d in agent.stream(ask(), stream_mode=["custom"])]
    assert [(m["marker"], m.get("status")) for m in markers] == [
        ("restart", "fallback"),
        ("final", "fallback"),
    ]
    assert markers[0]["partial"] == "Step one.\nStep two.\n"


async def test_astream_retries_inside_the_call() -> None:
    agent = agent_with(
        fake(call_tool("add", a=1, b=2), FIRST, SECOND), guarded(RETRY, FAILS_AT_2 + PASSES_2)
    )
    finals: list[dict[str, Any]] = []
    async for mode, data in agent.astream(ask(), stream_mode=["updates", "custom"]):
        if mode == "custom" and data[METADATA_KEY]["marker"] == "final":
            finals.append(data[METADATA_KEY])
    assert [f["status"] for f in finals] == ["ok", "ok"]  # the tool turn, then the answer
    assert finals[-1]["answer"] == SECOND


def test_escalation_switches_to_the_registered_model() -> None:
    policy = scripted_policy({"type": "escalate", "targets": ["fake-large"]})
    small, large = fake(FIRST), fake(SECOND, name="fake-large")
    middleware = guarded(policy, FAILS_AT_2 + PASSES_2, models={"fake-large": large})
    state = agent_with(small, middleware).invoke(ask())
    assert state["messages"][-1].content == SECOND
    record = summary(state["messages"][-1])
    assert [(a["model"], a["kind"]) for a in record["attempts"]] == [
        ("fake-small", "initial"),
        ("fake-large", "escalate"),
    ]
    assert (len(small.calls), len(large.calls)) == (1, 1)


def test_self_correction_reasks_with_feedback_and_keeps_the_question() -> None:
    policy = scripted_policy({"type": "self_correct", "feedback_template": "Fix: {answer}"})
    model = fake(FIRST, SECOND)
    middleware = guarded(policy, FAILS_AT_2 + PASSES_2)
    state = agent_with(model, middleware).invoke(ask())
    assert state["messages"][-1].content == SECOND
    feedback = model.calls[1][-1]
    assert isinstance(feedback, HumanMessage)
    assert feedback.content == "Fix: Step one.\nStep two.\n"
    scorer = middleware.config.scorer
    assert isinstance(scorer, ScriptedScorer)
    assert {call.question for call in scorer.calls} == {QUESTION}
    assert len(state["messages"]) == 2  # the feedback is not added to the conversation


def test_abort_returns_the_fallback_answer_or_raises() -> None:
    with_fallback = scripted_policy({"type": "abort", "fallback_answer": "I am not sure."})
    state = agent_with(fake(FIRST), guarded(with_fallback, FAILS_AT_2)).invoke(ask())
    assert state["messages"][-1].content == "I am not sure."
    assert summary(state["messages"][-1])["status"] == "fallback"
    without = scripted_policy({"type": "abort", "message": "Too unsure."})
    with pytest.raises(GuardAborted, match="Too unsure") as caught:
        agent_with(fake(FIRST), guarded(without, FAILS_AT_2)).invoke(ask())
    assert caught.value.partial_answer == "Step one.\nStep two.\n"


# ----------------------------------------------------- raise for the built-in middleware
def test_low_confidence_error_is_a_typed_model_error() -> None:
    signal = GuardSignal("low", partial_answer="x")
    error = LowConfidenceError(signal)
    assert isinstance(error, ModelError)
    assert isinstance(error, GuardSignal)
    assert error.partial_answer == "x"
    assert not error.is_retryable  # no decision: nothing says the same model may do better


def test_raise_mode_lets_model_retry_middleware_call_again() -> None:
    model = fake(call_tool("multiply", a=6, b=7), FIRST, SECOND)
    retry = ModelRetryMiddleware(max_retries=1, initial_delay=0.0, jitter=False)
    judge = guarded(RETRY, FAILS_AT_2 + PASSES_2, on_low_confidence="raise")
    state = agent_with(model, retry, judge).invoke(ask())
    assert state["messages"][-1].content == SECOND
    record = summary(state["messages"][-1])
    assert record["status"] == "ok"
    assert len(record["attempts"]) == 1  # each call is judged on its own
    assert len(model.calls) == 3


def test_raise_mode_escalation_goes_to_model_fallback_middleware() -> None:
    policy = scripted_policy({"type": "escalate", "targets": ["fake-large"]})
    small, large = fake(FIRST), fake(SECOND, name="fake-large")
    judge = guarded(policy, FAILS_AT_2 + PASSES_2, on_low_confidence="raise")
    retry = ModelRetryMiddleware(max_retries=3, initial_delay=0.0, jitter=False)
    # retry (outermost) does not retry an escalation (not retryable); the fallback switches
    state = agent_with(small, retry, ModelFallbackMiddleware(large), judge).invoke(ask())
    assert state["messages"][-1].content == SECOND
    assert (len(small.calls), len(large.calls)) == (1, 1)


def test_raise_mode_without_composition_propagates_the_error() -> None:
    judge = guarded(RETRY, FAILS_AT_2, on_low_confidence="raise")
    with pytest.raises(LowConfidenceError) as caught:
        agent_with(fake(FIRST), judge).invoke(ask())
    assert caught.value.action_type == "retry"
    assert caught.value.is_retryable


def test_bad_on_low_confidence_is_a_config_error() -> None:
    with pytest.raises(GuardrailConfigError, match="on_low_confidence"):
        FineCEMiddleware(RETRY, ScriptedScorer([]), on_low_confidence="ignore")  # type: ignore[arg-type]


# ------------------------------------------------------------------------- human review
PROVISIONAL = scripted_policy(
    {"type": "human_review", "mode": "provisional"}, stage="outcome", below=0.5
)


def test_review_pauses_the_agent_and_an_edit_replaces_the_answer(tmp_path: Path) -> None:
    with SQLiteReviewQueue(tmp_path / "review.db") as queue:
        middleware = guarded(PROVISIONAL, [0.9, 0.9, 0.1], review=queue)
        agent = agent_with(fake(FIRST), middleware, checkpointer=InMemorySaver())
        config = {"configurable": {"thread_id": "t1"}}
        paused = agent.invoke(ask(), config)
        (pending,) = paused["__interrupt__"]
        request = pending.value
        assert request["kind"] == "guardrail_review"
        assert (request["question"], request["answer"]) == (QUESTION, FIRST)
        assert request["status"] == "pending_review"
        assert queue.get(request["review_id"]).status.value == "pending"
        resumed = agent.invoke(
            Command(resume={"verdict": "edit", "edited_answer": "Answer: 42"}), config
        )
        answer = resumed["messages"][-1]
        assert answer.content == "Answer: 42"
        assert summary(answer)["status"] == "edited"
        assert len([m for m in resumed["messages"] if isinstance(m, AIMessage)]) == 1
        assert queue.get(request["review_id"]).status.value == "edited"


async def test_blocking_review_of_a_cut_answer_and_a_reject(tmp_path: Path) -> None:
    blocking = scripted_policy({"type": "human_review", "mode": "blocking"})
    middleware = guarded(blocking, FAILS_AT_2, rejected_answer="Withheld.")
    agent = agent_with(fake(FIRST), middleware, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t2"}}
    paused = await agent.ainvoke(ask(), config)
    request = paused["__interrupt__"][0].value
    assert request["partial"] is True
    assert request["answer"] == "Step one.\nStep two.\n"
    resumed = await agent.ainvoke(Command(resume={"verdict": "reject"}), config)
    assert resumed["messages"][-1].content == "Withheld."
    assert summary(resumed["messages"][-1])["status"] == "rejected"


def test_an_approved_answer_is_not_reviewed_again() -> None:
    middleware = guarded(PROVISIONAL, [0.9, 0.9, 0.1])
    agent = agent_with(fake(FIRST), middleware, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t3"}}
    agent.invoke(ask(), config)
    resumed = agent.invoke(Command(resume={"verdict": "approve"}), config)
    assert "__interrupt__" not in resumed
    assert resumed["messages"][-1].content == FIRST
    assert summary(resumed["messages"][-1])["status"] == "approved"


def test_a_bad_resume_value_is_a_clear_error() -> None:
    agent = agent_with(
        fake(FIRST), guarded(PROVISIONAL, [0.9, 0.9, 0.1]), checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t4"}}
    agent.invoke(ask(), config)
    with pytest.raises(GuardrailConfigError, match=r"edited_answer.*resume with Command"):
        agent.invoke(Command(resume={"verdict": "edit"}), config)


# ---------------------------------------------------------------------------- plumbing
@pytest.fixture
def loggers_on(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """LangChain's and our logger fully on (``guardrail demo`` quiets LangChain's, for one)."""
    for name in ("langchain_core.callbacks.manager", "guardrail.integrations.langchain"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
        caplog.set_level(logging.DEBUG, logger=name)


@pytest.mark.usefixtures("loggers_on")
def test_guard_signals_are_not_logged_as_callback_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        agent_with(fake(FIRST, SECOND), guarded(RETRY, FAILS_AT_2 + PASSES_2)).invoke(ask())
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    (debug,) = [r for r in caplog.records if r.name == "guardrail.integrations.langchain"]
    assert debug.levelno == logging.DEBUG
    assert "RetryRequested" in debug.getMessage()


@pytest.mark.usefixtures("loggers_on")
def test_an_ordinary_retry_in_guard_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    from guardrail.integrations.langchain import guard

    guarded_model = guard(
        fake(FIRST, SECOND), RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_2), sleep=lambda s: None
    )
    with caplog.at_level(logging.DEBUG):
        assert guarded_model.invoke(QUESTION).status == "ok"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_log_filter_keeps_other_callback_errors() -> None:
    from guardrail.integrations.langchain._logging import GuardSignalLogFilter

    def record(handler: str, error: str) -> logging.LogRecord:
        return logging.LogRecord(
            "langchain_core.callbacks.manager",
            logging.WARNING,
            __file__,
            1,
            "Error in %s.%s callback: %s",
            (handler, "on_llm_new_token", error),
            None,
        )

    keep = GuardSignalLogFilter().filter
    assert not keep(record("GuardrailCallbackHandler", "GuardAborted('guardrail: abort')"))
    assert keep(record("GuardrailCallbackHandler", "ValueError('bug')"))
    assert keep(record("StdOutCallbackHandler", "RetryRequested('x')"))
    filters = logging.getLogger("langchain_core.callbacks.manager").filters
    assert any(isinstance(f, GuardSignalLogFilter) for f in filters)


def test_without_the_langchain_package_the_middleware_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['langchain'] = None\n"
        "from guardrail.errors import MissingExtraError\n"
        "import guardrail.integrations.langchain as lc\n"
        "try:\n"
        "    lc.FineCEMiddleware\n"
        "except MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert "pip install 'finece-guardrail[langchain]'" in done.stdout


def test_public_api_is_pinned() -> None:
    assert sorted(lc.__all__) == [
        "ChunkGate",
        "FineCEMiddleware",
        "GuardedRunnable",
        "GuardrailCallbackHandler",
        "LowConfidenceError",
        "METADATA_KEY",
        "MarkerFactory",
        "ModelRegistry",
        "RunRecord",
        "RunnableBuilder",
        "StreamingMode",
        "guard",
        "model_name_of",
    ]
