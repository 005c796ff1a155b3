"""The actuator: guard() carries out retry, escalate, self-correct, review and abort."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from lc_fakes import FakeStreamingChat, ModelCrashed, drain, scripted_policy

from guardrail.audit import JsonlAuditLog
from guardrail.errors import GuardrailConfigError, MissingExtraError
from guardrail.integrations.langchain import METADATA_KEY, guard
from guardrail.review import SQLiteReviewQueue
from guardrail.runtime import GuardAborted, GuardedResult, MemoryReviewSink, ReviewRejected
from guardrail.testing.scorers import ScriptedScorer

FIRST = "Step one.\nStep two.\nStep three.\nAnswer: 41"
SECOND = "Let me redo it.\nCarefully now.\nAnswer: 42"
NO_WAIT = {"initial_s": 0.0, "max_s": 0.0}
RETRY = scripted_policy({"type": "retry", "temperature": 0.3, "backoff": NO_WAIT})
FAILS_AT_2 = [0.9, 0.2]  # the second checkpoint ("Step two.\n") is low
PASSES_3 = [0.9, 0.9, 0.9]  # SECOND: two process checkpoints and the outcome


def fake(*responses: str, **options: Any) -> FakeStreamingChat:
    return FakeStreamingChat(responses=list(responses), **options)


def instant(**options: Any) -> dict[str, Any]:
    return {"sleep": lambda s: None, "rng": lambda: 0.0, **options}


# ------------------------------------------------------------------------------- retry
def test_retry_of_a_chain_rebuilds_it_around_its_registered_model() -> None:
    model = fake(FIRST, SECOND, model_name="fake-small")
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    guarded = guard(
        prompt | model,
        RETRY,
        ScriptedScorer(FAILS_AT_2 + PASSES_3),
        models={"fake-small": model},
        runnable_factory=lambda chat: prompt | chat,
        model_name="fake-small",
        question_from=lambda value: value["question"],
        **instant(),
    )
    result = guarded.invoke({"question": "What is 6 * 7?"})
    assert result.status == "ok"
    assert [c.temperature for c in model.calls] == [None, 0.3]


def test_retry_reruns_at_the_retry_temperature_and_records_both_attempts() -> None:
    model = fake(FIRST, SECOND)
    guarded = guard(model, RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), **instant())
    result = guarded.invoke("What is 6 * 7?")
    assert isinstance(result, GuardedResult)
    assert result.status == "ok"
    assert isinstance(result.output, AIMessage)
    assert result.output.content == SECOND
    assert result.answer == SECOND
    assert [(a.attempt, a.kind, a.partial) for a in result.attempts] == [
        (1, "initial", True),
        (2, "retry", False),
    ]
    assert result.attempts[0].answer == "Step one.\nStep two.\n"
    assert [c.temperature for c in model.calls] == [None, 0.3]
    assert model.calls[0].emitted[-1] == "\n"
    assert not model.calls[0].finished
    assert [a.type for a in result.actions] == ["retry"]
    assert result.final_confidence == 0.9
    assert result.output.response_metadata[METADATA_KEY]["status"] == "ok"


async def test_ainvoke_retries_too() -> None:
    model = fake(FIRST, SECOND)
    guarded = guard(model, RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), **instant())
    result = await guarded.ainvoke("q")
    assert result.status == "ok"
    assert result.output.content == SECOND
    assert len(result.attempts) == 2


def test_retry_backoff_sleeps_through_tenacity() -> None:
    policy = scripted_policy({"type": "retry", "backoff": {"initial_s": 0.25, "jitter": 0.0}})
    slept: list[float] = []
    guarded = guard(
        fake(FIRST, SECOND), policy, ScriptedScorer(FAILS_AT_2 + PASSES_3), sleep=slept.append
    )
    assert guarded.invoke("q").status == "ok"
    assert slept == [0.25]


# ---------------------------------------------------------------------------- escalate
ESCALATE = scripted_policy(
    {
        "type": "escalate",
        "targets": ["fake-medium", "fake-large"],
        "on_exhausted": {"type": "abort", "fallback_answer": "Ask a human."},
    }
)


def test_escalation_uses_the_registered_models_then_the_fallback() -> None:
    small, medium, large = fake(FIRST), fake(FIRST, model_name="fake-medium"), fake(SECOND)
    scorer = ScriptedScorer(FAILS_AT_2 * 3)
    guarded = guard(small, ESCALATE, scorer, models={"fake-medium": medium, "fake-large": large})
    result = guarded.invoke("q")
    assert [(a.model, a.kind) for a in result.attempts] == [
        ("fake-small", "initial"),
        ("fake-medium", "escalate"),
        ("fake-large", "escalate"),
    ]
    assert (len(small.calls), len(medium.calls), len(large.calls)) == (1, 1, 1)
    assert result.status == "fallback"
    assert result.output.content == "Ask a human."
    assert [a.type for a in result.actions] == ["escalate", "escalate", "abort"]


def test_escalation_rebuilds_a_chain_with_the_runnable_factory() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Be careful."), ("human", "{question}")])
    large = fake(SECOND, model_name="fake-large")

    def chain_for(model: Any) -> Any:
        return prompt | model | StrOutputParser()

    guarded = guard(
        chain_for(fake(FIRST)),
        ESCALATE,
        ScriptedScorer(FAILS_AT_2 + PASSES_3),
        models=lambda name: large if name == "fake-medium" else None,
        runnable_factory=chain_for,
        model_name="fake-small",
    )
    result = guarded.invoke({"question": "What is 6 * 7?"})
    assert result.status == "ok"
    assert result.output == SECOND
    assert isinstance(large.calls[0].prompt[0], SystemMessage)
    with pytest.raises(GuardrailConfigError, match="runnable_factory"):
        guard(
            chain_for(fake(FIRST)),
            ESCALATE,
            ScriptedScorer(FAILS_AT_2),
            models={"fake-medium": large},
            model_name="fake-small",
        ).invoke({"question": "q"})


def test_an_unregistered_target_needs_the_litellm_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_litellm", None)  # the extra is not installed
    guarded = guard(fake(FIRST), ESCALATE, ScriptedScorer(FAILS_AT_2))
    with pytest.raises(MissingExtraError, match=r"finece-guardrail\[litellm\]") as caught:
        guarded.invoke("q")
    assert "fake-medium" in "\n".join(caught.value.__notes__)


# ------------------------------------------------------------------------ self-correct
def test_self_correction_re_asks_with_the_least_confident_span() -> None:
    policy = scripted_policy(
        {
            "type": "self_correct",
            "feedback_template": "Check this step: {least_confident_span}\nQ: {question}",
        }
    )
    model = fake(FIRST, SECOND)
    guarded = guard(model, policy, ScriptedScorer(FAILS_AT_2 + PASSES_3))
    result = guarded.invoke([SystemMessage("Be brief."), HumanMessage("What is 6 * 7?")])
    assert result.status == "ok"
    assert result.output.content == SECOND
    second = model.calls[1].prompt
    assert [type(m).__name__ for m in second] == ["SystemMessage", "HumanMessage", "HumanMessage"]
    assert second[-1].content == "Check this step: Step two.\nQ: What is 6 * 7?"
    assert result.attempts[1].kind == "self_correct"


# ---------------------------------------------------------------------------- review
def test_blocking_review_waits_for_a_reviewer_on_the_sqlite_queue(tmp_path: Path) -> None:
    queue = SQLiteReviewQueue(tmp_path / "review.db")
    policy = scripted_policy({"type": "human_review", "mode": "blocking", "queue": "ops"})
    guarded = guard(
        fake(FIRST), policy, ScriptedScorer(FAILS_AT_2), review=queue, review_timeout_s=10
    )

    def reviewer() -> None:
        for _ in range(500):
            pending = queue.list(status="pending")
            if pending:
                queue.decide(pending[0].id, "edit", "ann", edited_answer="Answer: 42")
                return
            time.sleep(0.01)

    thread = threading.Thread(target=reviewer)
    thread.start()
    result = guarded.invoke("What is 6 * 7?")
    thread.join()
    assert result.status == "edited"
    assert result.output.content == "Answer: 42"
    item = queue.get(result.review_id)
    assert item.partial
    assert item.answer == "Step one.\nStep two.\n"
    assert item.queue == "ops"
    assert item.question == "What is 6 * 7?"
    assert item.rule == "low"


def test_provisional_review_returns_the_answer_marked_pending() -> None:
    sink = MemoryReviewSink()
    policy = scripted_policy({"type": "human_review", "mode": "provisional"}, stage="outcome")
    result = guard(fake(FIRST), policy, ScriptedScorer([0.9, 0.9, 0.9, 0.3]), review=sink).invoke(
        "q"
    )
    assert result.status == "pending_review"
    assert result.output.content == FIRST
    assert sink.items[result.review_id]["answer"] == FIRST
    assert sink.items[result.review_id]["partial"] is False


def test_rejected_review_raises() -> None:
    policy = scripted_policy({"type": "human_review", "mode": "blocking"})
    sink = MemoryReviewSink(auto=lambda item: ("reject", None))
    with pytest.raises(ReviewRejected):
        guard(fake(FIRST), policy, ScriptedScorer(FAILS_AT_2), review=sink).invoke("q")


# ----------------------------------------------------------------------------- abort
def test_abort_raises_a_typed_error_carrying_the_result() -> None:
    guarded = guard(fake(FIRST), scripted_policy("abort"), ScriptedScorer(FAILS_AT_2))
    with pytest.raises(GuardAborted) as caught:
        guarded.invoke("q")
    assert caught.value.partial_answer == "Step one.\nStep two.\n"
    assert caught.value.result is not None
    assert caught.value.result.status == "aborted"


def test_return_result_false_returns_the_output_with_metadata() -> None:
    policy = scripted_policy({"type": "abort", "fallback_answer": "Sorry."})
    guarded = guard(fake(FIRST), policy, ScriptedScorer(FAILS_AT_2), return_result=False)
    message = guarded.invoke("q")
    assert message.content == "Sorry."
    assert message.response_metadata[METADATA_KEY]["status"] == "fallback"


def test_a_model_error_propagates_and_is_audited(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    model = fake(FIRST, fail_after=4)
    guarded = guard(model, RETRY, ScriptedScorer([0.9, 0.9]), audit=log)
    with pytest.raises(ModelCrashed):
        guarded.invoke("q")
    records = log.tail(50)
    assert [r.kind.value for r in records][-2:] == ["error", "run_end"]
    assert records[-1].payload["status"] == "error"


# ------------------------------------------------------------------------- streaming
def contents(chunks: list[Any]) -> list[str]:
    return [str(c.content) for c in chunks]


def markers(chunks: list[Any]) -> list[str]:
    return [
        c.response_metadata[METADATA_KEY]["marker"]
        for c in chunks
        if METADATA_KEY in c.response_metadata and "marker" in c.response_metadata[METADATA_KEY]
    ]


def test_pass_through_streams_at_once_and_marks_the_restart() -> None:
    guarded = guard(fake(FIRST, SECOND), RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), **instant())
    chunks = list(guarded.stream("q"))
    assert markers(chunks) == ["restart", "final"]
    restart = next(i for i, c in enumerate(chunks) if c.response_metadata.get(METADATA_KEY))
    assert "".join(contents(chunks[:restart])) == "Step one.\nStep two."  # shown, then retracted
    assert chunks[restart].response_metadata[METADATA_KEY]["discard_chunks"] == 5
    assert "".join(contents(chunks[restart + 1 :])) == SECOND
    final = chunks[-1].response_metadata[METADATA_KEY]
    assert final["status"] == "ok"
    assert len(final["attempts"]) == 2


def test_hold_back_never_shows_text_a_checkpoint_rejected() -> None:
    guarded = guard(
        fake(FIRST, SECOND),
        RETRY,
        ScriptedScorer(FAILS_AT_2 + PASSES_3),
        streaming="hold_back",
        **instant(),
    )
    chunks = list(guarded.stream("q"))
    shown = "".join(contents(chunks))
    assert "Step two" not in shown  # held, then discarded when its checkpoint failed
    assert shown == "Step one.\n" + SECOND  # the passed paragraph, then the retry
    assert markers(chunks) == ["restart", "final"]


@pytest.mark.parametrize(("window", "most_held"), [(None, 7), (2, 2)])
def test_hold_back_releases_at_checkpoints_or_past_the_window(
    window: int | None, most_held: int
) -> None:
    model = fake("one two three four five six seven\nend")
    guarded = guard(
        model,
        scripted_policy("abort"),
        ScriptedScorer(lambda q, a: 0.9),
        streaming="hold_back",
        hold_back_tokens=window,
    )
    lags: list[int] = []
    shown = 0
    for chunk in guarded.stream("q"):
        if chunk.content:
            shown += 1
            lags.append(len(model.calls[-1].emitted) - shown)
    assert shown == 9
    assert max(lags) == most_held


def test_a_string_stream_cannot_carry_markers_so_a_retraction_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain = fake(FIRST, SECOND) | StrOutputParser()
    guarded = guard(chain, RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), **instant())
    with caplog.at_level("WARNING", logger="guardrail.integrations.langchain.streaming"):
        chunks = list(guarded.stream("q"))
    assert all(isinstance(chunk, str) for chunk in chunks)
    assert "".join(chunks) == "Step one.\nStep two." + SECOND
    assert "carry no restart marker" in caplog.text
    chain = fake(FIRST, SECOND) | StrOutputParser()
    held = guard(chain, RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), streaming="hold_back")
    assert "".join(held.stream("q")) == "Step one.\n" + SECOND  # only checked text was shown


def test_a_stream_closed_early_releases_everything(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    model = fake(FIRST)
    guarded = guard(model, RETRY, ScriptedScorer(lambda q, a: 0.9), audit=log)
    stream = guarded.stream("q")
    first = [next(stream), next(stream)]
    stream.close()
    assert "".join(contents(first)) == "Step one."
    assert not model.calls[0].finished
    records = log.tail(20)
    assert records[-1].kind.value == "run_end"
    assert records[-1].payload["status"] == "cancelled"


def test_pass_through_abort_ends_with_a_final_marker_then_raises() -> None:
    guarded = guard(fake(FIRST), scripted_policy("abort"), ScriptedScorer(FAILS_AT_2))
    chunks: list[Any] = []
    with pytest.raises(GuardAborted):
        drain(guarded.stream("q"), chunks)
    assert markers(chunks) == ["final"]
    assert chunks[-1].response_metadata[METADATA_KEY]["status"] == "aborted"
    assert "".join(contents(chunks)) == "Step one.\nStep two."


async def test_astream_retries_and_marks_like_stream() -> None:
    guarded = guard(fake(FIRST, SECOND), RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), **instant())
    chunks = [chunk async for chunk in guarded.astream("q")]
    assert markers(chunks) == ["restart", "final"]
    total: AIMessageChunk = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.response_metadata[METADATA_KEY]["status"] == "ok"


async def test_astream_abort_with_fallback_replaces_the_answer() -> None:
    policy = scripted_policy({"type": "abort", "fallback_answer": "Sorry."})
    guarded = guard(fake(FIRST), policy, ScriptedScorer(FAILS_AT_2), streaming="hold_back")
    chunks = [chunk async for chunk in guarded.astream("q")]
    assert contents(chunks)[-2:] == ["Sorry.", ""]
    assert markers(chunks) == ["restart", "final"]


# ----------------------------------------------------------------------------- batch
def by_question(question: str, answer: str) -> float:
    """Odd questions fail the second checkpoint on their first attempt (FIRST's text)."""
    odd = int(question.split()[-1]) % 2 == 1
    return (
        0.2
        if odd and answer.startswith("Step one.\nStep two.") and answer.count("\n") == 2
        else 0.9
    )


def respond(messages: Any) -> str:
    return FIRST if not any("redo" in str(m.content) for m in messages) else SECOND


def test_sixteen_guarded_calls_in_batch_are_independent() -> None:
    calls: dict[str, int] = {}

    def answer(messages: Any) -> str:
        question = str(messages[-1].content)
        calls[question] = calls.get(question, 0) + 1
        return FIRST if calls[question] == 1 else SECOND

    model = FakeStreamingChat(responses=answer, token_delay_s=0.001)
    guarded = guard(model, RETRY, ScriptedScorer(by_question), **instant())
    questions = [f"question {n}" for n in range(16)]
    results = guarded.batch(questions, config={"max_concurrency": 16})
    for n, result in enumerate(results):
        assert result.status == "ok"
        assert len(result.attempts) == (2 if n % 2 else 1)
        assert result.output.content == (SECOND if n % 2 else FIRST)
        assert {e.token_index for e in result.attempts[0].events} <= {3, 6, 9, 11}


async def test_abatch_runs_guarded_calls_concurrently() -> None:
    model = FakeStreamingChat(responses=lambda m: FIRST)
    policy = scripted_policy({"type": "abort", "fallback_answer": "no"})
    guarded = guard(model, policy, ScriptedScorer(by_question))
    results = await guarded.abatch([f"q {n}" for n in range(4)])
    assert [r.status for r in results] == ["ok", "fallback", "ok", "fallback"]


# ------------------------------------------------------------------------ observability
def test_every_checkpoint_decision_and_action_is_audited(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    guarded = guard(
        fake(FIRST, SECOND), RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), audit=log, **instant()
    )
    guarded.invoke("q")
    runs = {record.run_id for record in log.tail(100)}
    assert len(runs) == 1
    kinds = [r.kind.value for r in log.read_run(runs.pop())]
    assert kinds == [
        "run_start",
        "checkpoint",
        "decision",
        "checkpoint",
        "decision",
        "action",
        "checkpoint",
        "decision",
        "checkpoint",
        "decision",
        "checkpoint",
        "decision",
        "run_end",
    ]


async def test_astream_events_sees_guard_events_and_model_tokens() -> None:
    guarded = guard(fake(FIRST, SECOND), RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_3), **instant())
    names: list[str] = []
    tokens = 0
    async for event in guarded.astream_events("q", version="v2"):
        if event["event"] == "on_custom_event":
            names.append(event["name"])
        tokens += event["event"] == "on_chat_model_stream"
    assert names.count("guardrail_checkpoint") == 5
    assert names.count("guardrail_decision") == 5
    assert "guardrail_action" in names
    assert names[-1] == "guardrail_result"
    assert tokens >= 11 + 5  # both attempts' tokens still reach the tracer


def test_observe_mode_never_acts() -> None:
    guarded = guard(
        fake(FIRST),
        scripted_policy("abort"),
        ScriptedScorer([*FAILS_AT_2, 0.1, 0.1]),
        mode="observe",
    )
    result = guarded.invoke("q")
    assert result.status == "ok"
    assert result.output.content == FIRST
    assert [d.action.type for d in result.decisions] == ["continue", "abort", "abort", "continue"]
