"""guarded_completion(): retry, escalate, self-correct, review, abort over litellm mocks."""

from __future__ import annotations

from typing import Any

import litellm
import pytest
from litellm.types.utils import ModelResponse
from lt_fakes import (
    FIRST,
    MESSAGES,
    NO_WAIT,
    SECOND,
    Recorder,
    drain,
    low_on,
    markers,
    scripted_policy,
    text_of,
)

from guardrail.errors import GuardrailConfigError
from guardrail.integrations.litellm import aguarded_completion, guarded_completion
from guardrail.runtime import GuardAborted, GuardConfig, GuardedResult, MemoryReviewSink
from guardrail.testing.scorers import ScriptedScorer

RETRY = scripted_policy({"type": "retry", "temperature": 0.3, "backoff": NO_WAIT})
FAILS_AT_2 = [0.9, 0.2]  # FIRST's second checkpoint ("Step two.") is low
PASSES_4 = [0.9] * 4  # FIRST again: three process checkpoints and the outcome
ESCALATE = scripted_policy(
    {
        "type": "escalate",
        "targets": ["openai/medium", "openai/large"],
        "on_exhausted": {"type": "abort", "fallback_answer": "Ask a human."},
    }
)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(litellm, "completion", recorder.completion)
    monkeypatch.setattr(litellm, "acompletion", recorder.acompletion)
    return recorder


def call(policy: Any, scorer: ScriptedScorer, **options: Any) -> Any:
    options.setdefault("mock_response", FIRST)
    return guarded_completion(
        model="openai/small",
        messages=MESSAGES,
        policy=policy,
        scorer=scorer,
        sleep=lambda s: None,
        rng=lambda: 0.0,
        **options,
    )


# ------------------------------------------------------------------------------- retry
def test_retry_reruns_at_the_retry_temperature(recorder: Recorder) -> None:
    result = call(RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_4))
    assert isinstance(result, GuardedResult)
    assert result.status == "ok"
    assert [(a.attempt, a.kind, a.partial) for a in result.attempts] == [
        (1, "initial", True),
        (2, "retry", False),
    ]
    assert "Step two" in result.attempts[0].answer
    assert "three" not in result.attempts[0].answer  # cut at the checkpoint
    assert [c.get("temperature") for c in recorder.calls] == [None, 0.3]
    assert all(c["stream"] is True for c in recorder.calls)  # streamed, so it can be cut
    assert [a.type for a in result.actions] == ["retry"]
    output = result.output
    assert isinstance(output, ModelResponse)
    assert output.choices[0].message.content == FIRST
    assert output._hidden_params["guardrail"]["status"] == "ok"
    summary = output._hidden_params["guardrail"]["summary"]
    assert (summary["status"], summary["attempts"]) == ("ok", 2)
    assert [a["type"] for a in summary["actions"]] == ["retry"]


def test_retry_backoff_sleeps_the_policy_delay() -> None:
    policy = scripted_policy({"type": "retry", "backoff": {"initial_s": 0.25, "jitter": 0.0}})
    slept: list[float] = []
    result = guarded_completion(
        model="openai/small",
        messages=MESSAGES,
        policy=policy,
        scorer=ScriptedScorer(FAILS_AT_2 + PASSES_4),
        mock_response=FIRST,
        sleep=slept.append,
    )
    assert result.status == "ok"
    assert slept == [0.25]


async def test_aguarded_completion_retries_too(recorder: Recorder) -> None:
    result = await aguarded_completion(
        model="openai/small",
        messages=MESSAGES,
        policy=RETRY,
        scorer=ScriptedScorer(FAILS_AT_2 + PASSES_4),
        mock_response=FIRST,
    )
    assert isinstance(result, GuardedResult)
    assert result.status == "ok"
    assert [a.kind for a in result.attempts] == ["initial", "retry"]
    assert [c.get("temperature") for c in recorder.calls] == [None, 0.3]


# ---------------------------------------------------------------------------- escalate
def test_escalation_calls_the_policy_targets(recorder: Recorder) -> None:
    params = {"openai/medium": {"mock_response": FIRST}, "openai/large": {"mock_response": SECOND}}
    result = call(ESCALATE, ScriptedScorer(low_on("Step two")), model_params=params)
    assert result.status == "ok"
    assert recorder.models == ["openai/small", "openai/medium", "openai/large"]
    assert [(a.model, a.kind) for a in result.attempts] == [
        ("openai/small", "initial"),
        ("openai/medium", "escalate"),
        ("openai/large", "escalate"),
    ]
    assert result.output.choices[0].message.content == SECOND


def test_exhausted_escalation_returns_the_fallback_answer() -> None:
    result = call(ESCALATE, ScriptedScorer(low_on("Step two")))
    assert result.status == "fallback"
    assert result.output.choices[0].message.content == "Ask a human."
    assert [a.type for a in result.actions] == ["escalate", "escalate", "abort"]


# ------------------------------------------------------------------------ self-correct
def test_self_correction_re_asks_with_the_least_confident_span(recorder: Recorder) -> None:
    policy = scripted_policy(
        {"type": "self_correct", "feedback_template": "Check: {least_confident_span}"}
    )
    result = call(policy, ScriptedScorer(FAILS_AT_2 + PASSES_4))
    assert result.status == "ok"
    first, second = recorder.calls
    assert first["messages"] == MESSAGES
    assert second["messages"][:2] == MESSAGES
    feedback = second["messages"][2]
    assert feedback["role"] == "user"
    assert feedback["content"].startswith("Check: ")
    assert "two" in feedback["content"]
    assert result.attempts[1].kind == "self_correct"


# ---------------------------------------------------------------------------- review
def test_blocking_review_releases_the_edited_answer() -> None:
    sink = MemoryReviewSink(auto=lambda item: ("edit", "Answer: 42"))
    policy = scripted_policy({"type": "human_review", "mode": "blocking", "queue": "ops"})
    result = call(policy, ScriptedScorer(FAILS_AT_2), review=sink)
    assert result.status == "edited"
    assert result.output.choices[0].message.content == "Answer: 42"
    (item,) = sink.items.values()
    assert item["partial"] is True
    assert item["queue"] == "ops"
    assert item["question"] == "What is 6 * 7?"


def test_provisional_review_returns_the_answer_pending() -> None:
    sink = MemoryReviewSink()
    policy = scripted_policy({"type": "human_review", "mode": "provisional"}, stage="outcome")
    result = call(policy, ScriptedScorer([0.9, 0.9, 0.9, 0.3]), review=sink)
    assert result.status == "pending_review"
    assert result.review_id in sink.items
    assert result.output.choices[0].message.content == FIRST


# ----------------------------------------------------------------------------- abort
def test_abort_raises_with_the_call_record() -> None:
    policy = scripted_policy({"type": "abort", "message": "Too unsure."})
    with pytest.raises(GuardAborted, match="Too unsure") as caught:
        call(policy, ScriptedScorer(FAILS_AT_2))
    result = caught.value.result
    assert result is not None
    assert result.status == "aborted"
    assert "Step two" in caught.value.partial_answer


def test_abort_with_fallback_and_the_bare_response() -> None:
    policy = scripted_policy({"type": "abort", "fallback_answer": "I am not sure."})
    response = call(policy, ScriptedScorer(FAILS_AT_2), return_result=False)
    assert isinstance(response, ModelResponse)
    assert response.choices[0].message.content == "I am not sure."
    assert response._hidden_params["guardrail"]["status"] == "fallback"


def test_a_question_checkpoint_abort_calls_no_model(recorder: Recorder) -> None:
    policy = scripted_policy({"type": "abort"}, stage="question", score_question=True)
    with pytest.raises(GuardAborted) as caught:
        call(policy, ScriptedScorer([0.1]))
    assert recorder.calls == []
    assert caught.value.partial_answer == ""


def test_observe_mode_records_without_acting() -> None:
    policy = scripted_policy({"type": "abort"})
    config = GuardConfig(policy, ScriptedScorer([*FAILS_AT_2, 0.9, 0.9]), mode="observe")
    result = call(config, ScriptedScorer([]))
    assert result.status == "ok"
    assert "abort" in [d.action.type for d in result.decisions]


# ---------------------------------------------------------------------------- stream
def test_stream_passes_chunks_through_with_restart_and_final_frames() -> None:
    chunks = list(call(RETRY, ScriptedScorer(FAILS_AT_2 + PASSES_4), stream=True))
    assert markers(chunks) == ["restart", "final"]
    restart = next(i for i, c in enumerate(chunks) if getattr(c, "guardrail", None))
    assert chunks[restart].guardrail["discard_chunks"] == restart
    assert chunks[restart].guardrail["action"] == "retry"
    shown_first = text_of(chunks[:restart])
    assert FIRST.startswith(shown_first)
    assert "Step two" in shown_first
    assert text_of(chunks[restart:]) == FIRST
    final = chunks[-1].guardrail
    assert final["status"] == "ok"
    assert len(final["attempts"]) == 2
    assert len({c.id for c in chunks[:restart]}) == 1


def test_stream_abort_ends_with_a_content_filter_frame_then_raises() -> None:
    policy = scripted_policy({"type": "abort"})
    chunks: list[Any] = []
    with pytest.raises(GuardAborted):
        drain(call(policy, ScriptedScorer(FAILS_AT_2), stream=True), chunks)
    assert markers(chunks) == ["final"]
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert chunks[-1].guardrail["status"] == "aborted"
    shown = text_of(chunks)
    partial = chunks[-1].guardrail["attempts"][0]["answer"]
    assert partial.startswith(shown)
    assert len(shown) < len(partial)  # the chunk that closed the checkpoint was held


def test_stream_abort_with_fallback_replaces_the_answer() -> None:
    policy = scripted_policy({"type": "abort", "fallback_answer": "I am not sure."})
    chunks = list(call(policy, ScriptedScorer(FAILS_AT_2), stream=True))
    assert markers(chunks) == ["restart", "final"]
    restart = next(i for i, c in enumerate(chunks) if getattr(c, "guardrail", None))
    assert text_of(chunks[restart:]) == "I am not sure."
    assert chunks[-1].guardrail["status"] == "fallback"


def test_stream_question_abort_sends_the_fallback_without_a_restart_frame(
    recorder: Recorder,
) -> None:
    """Nothing was shown, so nothing is taken back (docs/litellm.md, the frame table)."""
    policy = scripted_policy(
        {"type": "abort", "fallback_answer": "I am not sure."},
        stage="question",
        score_question=True,
    )
    chunks = list(call(policy, ScriptedScorer([0.1]), stream=True))
    assert markers(chunks) == ["final"]
    assert text_of(chunks) == "I am not sure."
    assert chunks[-1].guardrail["status"] == "fallback"
    assert recorder.calls == []


async def _async_retry_stream(**options: Any) -> list[Any]:
    """The chunks of an async streamed call whose first answer fails its second checkpoint."""
    stream = await aguarded_completion(
        model="openai/small",
        messages=MESSAGES,
        policy=RETRY,
        scorer=ScriptedScorer(FAILS_AT_2 + PASSES_4),
        mock_response=FIRST,
        stream=True,
        asleep=_no_sleep,
        **options,
    )
    return [chunk async for chunk in stream]


async def test_async_stream_retries_with_frames() -> None:
    chunks = await _async_retry_stream()
    assert markers(chunks) == ["restart", "final"]
    assert chunks[-1].guardrail["status"] == "ok"


async def _no_sleep(seconds: float) -> None:
    return None


# ------------------------------------------------------------------------ hold-back
def shown_before_restart(chunks: list[Any]) -> str:
    restart = next(i for i, c in enumerate(chunks) if getattr(c, "guardrail", None))
    assert chunks[restart].guardrail["marker"] == "restart"
    assert chunks[restart].guardrail["discard_chunks"] == restart
    return text_of(chunks[:restart])


def test_hold_back_stream_never_shows_text_a_checkpoint_rejected() -> None:
    scorer = ScriptedScorer(FAILS_AT_2 + PASSES_4)
    chunks = list(call(RETRY, scorer, stream=True, streaming="hold_back"))
    assert markers(chunks) == ["restart", "final"]
    shown_first = shown_before_restart(chunks)
    assert FIRST.startswith(shown_first)
    assert "Step one.\n" in shown_first  # the paragraph whose checkpoint passed
    assert "two" not in shown_first  # held, then dropped when its checkpoint failed
    assert text_of(chunks).endswith(FIRST)  # the retry, released as its checkpoints passed
    assert chunks[-1].guardrail["status"] == "ok"


class CountingRouter:
    """Serves calls with litellm's mock and counts the chunks the guard took from the model."""

    def __init__(self) -> None:
        self.taken = 0

    def completion(self, **kwargs: Any) -> Any:
        def chunks() -> Any:
            for chunk in litellm.completion(**kwargs):
                self.taken += 1
                yield chunk

        return chunks()


@pytest.mark.parametrize(("window", "most_held"), [(None, 3), (2, 2)])
def test_hold_back_releases_at_checkpoints_or_past_the_window(
    window: int | None, most_held: int
) -> None:
    router = CountingRouter()
    scorer = ScriptedScorer(lambda question, answer: 0.9)
    stream = call(
        RETRY, scorer, stream=True, streaming="hold_back", hold_back_tokens=window, router=router
    )
    shown: list[str] = []
    held: list[int] = []
    for chunk in stream:
        if not getattr(chunk, "guardrail", None) and chunk.choices[0].delta.content:
            shown.append(chunk.choices[0].delta.content)
            held.append(router.taken - len(shown))
    assert "".join(shown) == FIRST
    assert max(held) == most_held


async def test_async_hold_back_stream_drops_the_rejected_paragraph() -> None:
    chunks = await _async_retry_stream(streaming="hold_back")
    assert markers(chunks) == ["restart", "final"]
    assert "two" not in shown_before_restart(chunks)
    assert text_of(chunks).endswith(FIRST)


def test_an_unknown_streaming_mode_is_a_config_error() -> None:
    with pytest.raises(GuardrailConfigError, match="streaming must be"):
        call(RETRY, ScriptedScorer([]), stream=True, streaming="later")
    with pytest.raises(GuardrailConfigError, match="hold_back_tokens"):
        call(RETRY, ScriptedScorer([]), streaming="hold_back", hold_back_tokens=0)
