"""The sensor: GuardrailCallbackHandler on every LangChain call path."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from langchain_core.language_models.fake import FakeStreamingListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableLambda, RunnableParallel
from lc_fakes import FakeStreamingChat, ModelCrashed, adrain, drain, scripted_policy

from guardrail.integrations.langchain import METADATA_KEY, GuardrailCallbackHandler
from guardrail.runtime import GuardAborted, RetryRequested
from guardrail.scoring_worker import ScoringWorker
from guardrail.testing.scorers import ScriptedScorer

ANSWER = "Step one.\nStep two.\nStep three.\nAnswer: 42"
UP_TO_CHECKPOINT = ["Step", " one.", "\n", "Step", " two.", "\n"]  # checkpoint 2 fires on "\n"
ABORT = scripted_policy({"type": "abort", "message": "not confident"})


def handler(scores: Any, policy: Any = ABORT, **options: Any) -> GuardrailCallbackHandler:
    return GuardrailCallbackHandler(policy, ScriptedScorer(scores), **options)


def low_second() -> list[float]:
    return [0.9, 0.2, 0.9, 0.9]


def assert_stopped(error: GuardAborted, model: FakeStreamingChat, h: GuardrailCallbackHandler):
    assert error.partial_answer == "".join(UP_TO_CHECKPOINT)
    assert [event.confidence for event in error.events] == [0.9, 0.2]
    assert error.decision.rule == "low"
    assert model.calls[-1].emitted == UP_TO_CHECKPOINT  # generation stopped at that token
    assert not model.calls[-1].finished
    assert h.active_runs == []
    assert h.runs[-1].outcome == "interrupted: abort"


# ---------------------------------------------------------------------- abort, every path
def test_abort_stream_stops_at_the_checkpoint_token() -> None:
    model, h = FakeStreamingChat(responses=[ANSWER]), handler(low_second())
    chunks: list[Any] = []
    with pytest.raises(GuardAborted) as caught:
        drain(model.stream("q", config={"callbacks": [h]}), chunks)
    assert [c.content for c in chunks] == UP_TO_CHECKPOINT[:-1]  # the checkpoint's is not yielded
    assert_stopped(caught.value, model, h)
    assert ScoringWorker.for_scorer(h.config.scorer).wait_idle(30)  # closes run on the worker
    assert h.config.scorer.sessions[-1].closed  # type: ignore[attr-defined]


async def test_abort_astream_stops_at_the_checkpoint_token() -> None:
    model, h = FakeStreamingChat(responses=[ANSWER]), handler(low_second())
    chunks: list[Any] = []
    with pytest.raises(GuardAborted) as caught:
        await adrain(model.astream("q", config={"callbacks": [h]}), chunks)
    assert [c.content for c in chunks] == UP_TO_CHECKPOINT[:-1]
    assert_stopped(caught.value, model, h)


def test_abort_invoke_stops_at_the_checkpoint_token() -> None:
    model, h = FakeStreamingChat(responses=[ANSWER]), handler(low_second(), stream_invoke=True)
    with pytest.raises(GuardAborted) as caught:
        model.invoke("q", config={"callbacks": [h]})
    assert_stopped(caught.value, model, h)


async def test_abort_ainvoke_stops_at_the_checkpoint_token() -> None:
    model, h = FakeStreamingChat(responses=[ANSWER]), handler(low_second(), stream_invoke=True)
    with pytest.raises(GuardAborted) as caught:
        await model.ainvoke("q", config={"callbacks": [h]})
    assert_stopped(caught.value, model, h)


def confidence_by_question(question: str, answer: str) -> float:
    """Questions containing 'bad' get a low second checkpoint."""
    low = "bad" in question and answer.count("\n") == 2
    return 0.2 if low else 0.9


def test_abort_batch_stops_each_bad_run_at_its_checkpoint() -> None:
    model = FakeStreamingChat(responses=lambda messages: ANSWER)
    h = handler(confidence_by_question, stream_invoke=True)
    inputs = ["good 0", "bad 1", "good 2", "bad 3"]
    results = model.batch(inputs, config={"callbacks": [h]}, return_exceptions=True)
    for question, result in zip(inputs, results, strict=True):
        if "bad" in question:
            assert isinstance(result, GuardAborted)
            assert result.partial_answer == "".join(UP_TO_CHECKPOINT)
        else:
            assert isinstance(result, AIMessage)
            assert result.content == ANSWER
            assert result.response_metadata[METADATA_KEY]["question"] == question
    emitted = sorted(len(call.emitted) for call in model.calls)
    assert emitted == [6, 6, 11, 11]
    assert h.active_runs == []


def test_invoke_without_streaming_scores_the_complete_answer() -> None:
    """A model that is not streamed: the decision comes at on_llm_end, cut at the checkpoint."""
    model, h = FakeStreamingChat(responses=[ANSWER]), handler(low_second())
    with pytest.raises(GuardAborted) as caught:
        model.invoke("q", config={"callbacks": [h]})
    assert caught.value.partial_answer == "".join(UP_TO_CHECKPOINT)
    assert model.calls[-1].finished  # the provider had already written everything
    assert h.active_runs == []


def test_completion_llms_are_watched_too() -> None:
    """A (non-streaming) completion LLM: on_llm_start gives the question, on_llm_end the text."""
    llm = FakeStreamingListLLM(responses=["ab\ncd\nef"])
    h = handler([0.9, 0.1, 0.9])
    shown: list[str] = []
    with pytest.raises(GuardAborted) as caught:
        drain(llm.stream("question?", config={"callbacks": [h]}), shown)
    assert caught.value.partial_answer == "ab\ncd\n"
    assert shown == []
    assert h.runs[-1].watch.question == "question?"


def test_question_checkpoint_decision_is_raised_at_the_first_token() -> None:
    policy = scripted_policy("retry", stage="question", score_question=True)
    model, h = FakeStreamingChat(responses=[ANSWER]), handler([0.1])
    h = GuardrailCallbackHandler(policy, ScriptedScorer([0.1]))
    with pytest.raises(RetryRequested) as caught:
        list(model.stream("q", config={"callbacks": [h]}))
    assert caught.value.partial_answer == ""
    assert model.calls[-1].emitted == ["Step"]  # the request went out, nothing was shown
    assert h.runs[-1].outcome == "interrupted: retry"


def test_a_tool_call_step_without_text_is_not_judged() -> None:
    call = {"name": "calculator", "args": {"expression": "6*7"}, "id": "call-1"}
    model = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=[call])]))
    h = handler([0.0], policy=scripted_policy("abort", stage="outcome", below=1.0))
    message = model.invoke("q", config={"callbacks": [h]})
    assert message.tool_calls[0]["name"] == "calculator"
    assert h.runs[-1].watch.events == ()
    assert h.runs[-1].outcome == "completed"


# ------------------------------------------------------------------ observe, results
def test_observe_mode_records_but_never_raises() -> None:
    model = FakeStreamingChat(responses=[ANSWER])
    h = handler([0.9, 0.2, 0.3, 0.1], mode="observe")
    chunks = list(model.stream("q", config={"callbacks": [h]}))
    assert "".join(str(c.content) for c in chunks) == ANSWER
    summary = chunks[-1].response_metadata[METADATA_KEY]
    actions = [d["action"]["type"] for d in summary["decisions"]]
    assert actions == ["continue", "abort", "abort", "continue"]  # the rule is process-only
    assert summary["final_confidence"] == 0.1
    assert summary["mode"] == "observe"


def test_results_are_attached_to_the_last_chunk_and_the_message() -> None:
    model = FakeStreamingChat(responses=[ANSWER])
    h = handler([0.8, 0.7, 0.6, 0.5])
    total: AIMessageChunk | None = None
    for chunk in model.stream("q", config={"callbacks": [h]}):
        total = chunk if total is None else total + chunk
    assert total is not None
    summary = total.response_metadata[METADATA_KEY]
    assert [c["confidence"] for c in summary["checkpoints"]] == [0.8, 0.7, 0.6, 0.5]
    assert summary["checkpoints"][-1]["stage"] == "outcome"
    assert summary["outcome"] == "completed"
    message = model.invoke("q", config={"callbacks": [handler([0.8, 0.7, 0.6, 0.5])]})
    assert message.response_metadata[METADATA_KEY]["final_confidence"] == 0.5
    guard_summary = message.response_metadata[METADATA_KEY]["summary"]  # the one schema
    assert (guard_summary["status"], guard_summary["final_confidence"]) == ("ok", 0.5)
    assert (guard_summary["attempts"], guard_summary["actions"]) == (1, [])


@pytest.mark.parametrize("where", ["generation_info", "response_metadata"])
def test_logprobs_are_read_from_either_place(where: str) -> None:
    model = FakeStreamingChat(responses=[ANSWER], logprobs_in=where)
    h = handler([0.9, 0.9, 0.9, 0.9])
    list(model.stream("q", config={"callbacks": [h]}))
    process = [e for e in h.runs[-1].watch.events if e.stage.value == "process"]
    assert process
    assert all(event.entropy is not None and event.entropy > 0 for event in process)


def test_the_handler_reports_checkpoints_to_its_listener() -> None:
    heard: list[tuple[str, dict[str, Any]]] = []
    h = handler([0.9, 0.2, 0.9, 0.9], listener=lambda kind, data: heard.append((kind, dict(data))))
    with pytest.raises(GuardAborted):
        list(FakeStreamingChat(responses=[ANSWER]).stream("q", config={"callbacks": [h]}))
    kinds = [kind for kind, _ in heard]
    assert kinds == ["checkpoint", "decision", "checkpoint", "decision"]
    assert all(data["run_id"] == str(h.runs[-1].run_id) for _, data in heard)


# -------------------------------------------------------------- errors, isolation, loop
def test_a_model_error_mid_stream_releases_the_run() -> None:
    model = FakeStreamingChat(responses=[ANSWER], fail_after=4)
    h = handler([0.9, 0.9, 0.9, 0.9])
    with pytest.raises(ModelCrashed):
        list(model.stream("q", config={"callbacks": [h]}))
    record = h.runs[-1]
    assert record.outcome == "error"
    assert record.watch.error is not None
    assert "ModelCrashed" in record.watch.error
    assert h.active_runs == []
    assert ScoringWorker.for_scorer(h.config.scorer).wait_idle(30)  # closes run on the worker
    assert h.config.scorer.sessions[-1].closed  # type: ignore[attr-defined]


def test_parallel_and_nested_runs_have_their_own_monitors() -> None:
    def answer(messages: Any) -> str:
        return f"{messages[-1].content} first line.\nsecond line.\n"

    model = FakeStreamingChat(responses=answer)
    scorer = ScriptedScorer(lambda q, a: 0.5 if q.startswith("inner") else 0.9)
    h = GuardrailCallbackHandler(ABORT, scorer)

    def nested(message: AIMessage) -> str:
        inner = model.invoke(f"inner for {message.content[:5]}")
        return str(inner.content)

    chain = RunnableParallel(a=model, b=model | RunnableLambda(nested))
    out = chain.invoke("outer", config={"callbacks": [h]})
    assert out["b"].startswith("inner")
    runs = h.runs
    assert len(runs) == 3
    by_question = {run.watch.question: run for run in runs}
    assert set(by_question) == {"outer", "inner for outer"}
    inner = by_question["inner for outer"]
    assert inner.parent_run_id is not None
    assert all(e.confidence == 0.5 for e in inner.watch.events)
    outers = [run for run in runs if run.watch.question == "outer"]
    assert all(e.confidence == 0.9 for run in outers for e in run.watch.events)
    assert len({id(run.watch) for run in runs}) == 3
    assert ScoringWorker.for_scorer(scorer).wait_idle(30)
    assert all(session.closed for session in scorer.sessions)


def test_sixteen_parallel_batch_runs_use_independent_monitors() -> None:
    def answer(messages: Any) -> str:
        n = messages[-1].content.split()[-1]
        return f"Run {n} part one.\nRun {n} part two.\nDone {n}."

    def score(question: str, answer_so_far: str) -> float:
        n = int(question.split()[-1])
        return round(0.5 + n / 100 + answer_so_far.count("\n") / 1000, 4)

    model = FakeStreamingChat(responses=answer, token_delay_s=0.001)
    scorer = ScriptedScorer(score)
    h = GuardrailCallbackHandler(ABORT, scorer, stream_invoke=True)
    questions = [f"question {n}" for n in range(16)]
    out = model.batch(questions, config={"callbacks": [h], "max_concurrency": 16})
    assert [m.content for m in out] == [answer([AIMessage(q)]) for q in questions]
    assert len(h.runs) == 16
    assert h.active_runs == []
    for run in h.runs:
        n = int(run.watch.question.split()[-1])
        assert run.watch.answer == f"Run {n} part one.\nRun {n} part two.\nDone {n}."
        assert [e.confidence for e in run.watch.events] == [
            round(0.5 + n / 100 + k / 1000, 4) for k in (1, 2, 2)
        ]
    assert len(scorer.sessions) == 16
    assert sorted(s.text for s in scorer.sessions) == sorted(m.content for m in out)


async def test_scoring_does_not_block_the_event_loop() -> None:
    def slow(question: str, answer: str) -> float:
        time.sleep(0.15)
        return 0.9

    model = FakeStreamingChat(responses=[ANSWER])
    h = GuardrailCallbackHandler(ABORT, ScriptedScorer(slow))
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    chunks = [chunk async for chunk in model.astream("q", config={"callbacks": [h]})]
    elapsed = time.perf_counter() - started
    task.cancel()
    assert "".join(str(c.content) for c in chunks) == ANSWER
    assert elapsed >= 0.5  # four slow checkpoints were scored ...
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.12  # ... while the loop kept ticking


# ------------------------------------------------------- the fake shipped in guardrail.testing
ENTROPY_POLICY = {
    "name": "entropy",
    "checkpoints": {
        "strategies": [{"type": "entropy", "threshold": 1.0, "source": "logprobs"}],
        "min_gap": 0,
        "score_question": False,
    },
    "rules": [{"name": "unsure", "when": {"stage": "process"}, "action": "abort"}],
}
TOKENS = ["The", " answer", " is", " 41", ".", " Done"]


def shipped_fake() -> Any:
    fake_chat = pytest.importorskip("guardrail.testing.fake_chat")
    response = fake_chat.ScriptedResponse(tokens=TOKENS, entropies=[0.1, 0.1, 0.2, 1.5, 0.1, 0.1])
    return fake_chat.FakeStreamingChatModel(responses=[response], when_exhausted="cycle")


def entropy_handler() -> GuardrailCallbackHandler:
    return GuardrailCallbackHandler(ENTROPY_POLICY, ScriptedScorer([0.3]), stream_invoke=True)


def run_path(path: str, model: Any, config: Any, chunks: list[Any]) -> None:
    if path == "stream":
        drain(model.stream("q", config=config), chunks)
    elif path == "invoke":
        model.invoke("q", config=config)
    else:
        raise model.batch(["q"], config=config, return_exceptions=True)[0]


async def arun_path(path: str, model: Any, config: Any, chunks: list[Any]) -> None:
    if path == "astream":
        await adrain(model.astream("q", config=config), chunks)
    elif path == "ainvoke":
        await model.ainvoke("q", config=config)
    else:
        raise (await model.abatch(["q"], config=config, return_exceptions=True))[0]


@pytest.mark.parametrize("path", ["stream", "invoke", "batch"])
def test_shipped_fake_aborts_at_the_uncertain_token_sync(path: str) -> None:
    model, h = shipped_fake(), entropy_handler()
    config: Any = {"callbacks": [h]}
    chunks: list[Any] = []
    with pytest.raises(GuardAborted) as caught:
        run_path(path, model, config, chunks)
    assert caught.value.partial_answer == "The answer is 41"
    assert caught.value.events[-1].entropy == pytest.approx(1.5)
    assert "".join(c.content for c in chunks) == ("The answer is" if path == "stream" else "")


@pytest.mark.parametrize("path", ["astream", "ainvoke", "abatch"])
async def test_shipped_fake_aborts_at_the_uncertain_token_async(path: str) -> None:
    model, h = shipped_fake(), entropy_handler()
    config: Any = {"callbacks": [h]}
    chunks: list[Any] = []
    with pytest.raises(GuardAborted) as caught:
        await arun_path(path, model, config, chunks)
    assert caught.value.partial_answer == "The answer is 41"
    assert "".join(c.content for c in chunks) == ("The answer is" if path == "astream" else "")
