"""The stream gate without a framework: string tokens, a scripted scorer, markers as tuples."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from lc_fakes import scripted_policy, tokens_of

import guardrail.runtime
from guardrail.policy import RunContext
from guardrail.runtime import (
    AttemptPlan,
    GuardAborted,
    GuardConfig,
    MarkerKind,
    StreamGate,
    StreamingMode,
    adrive,
    drive,
    run_call,
)
from guardrail.testing.scorers import ScriptedScorer

FIRST = "Step one.\nStep two.\nStep three.\nAnswer: 41"
SECOND = "Let me redo it.\nCarefully now.\nAnswer: 42"
FAILS_AT_2 = [0.9, 0.2]
PASSES_3 = [0.9, 0.9, 0.9]
RETRY = scripted_policy({"type": "retry", "backoff": {"initial_s": 0.0, "max_s": 0.0}})


def test_the_runtime_api_is_what_integrations_need() -> None:
    assert sorted(guardrail.runtime.__all__) == [
        "AnswerWatch",
        "Attempt",
        "AttemptOutput",
        "AttemptPlan",
        "CallSpec",
        "ChunkGate",
        "ChunkWatcher",
        "DEFAULT_REVIEW_TIMEOUT_S",
        "EscalationRequested",
        "Fail",
        "Finish",
        "Frames",
        "GuardAborted",
        "GuardConfig",
        "GuardOptions",
        "GuardSettings",
        "GuardStatus",
        "GuardSummary",
        "GuardedCall",
        "GuardedResult",
        "HumanReviewRequested",
        "MarkerKind",
        "MemoryReviewSink",
        "OpenAttempt",
        "PolicyLike",
        "QueueReviewSink",
        "RetryRequested",
        "ReviewOutcome",
        "ReviewRejected",
        "ReviewSink",
        "SelfCorrectionRequested",
        "Step",
        "StreamGate",
        "StreamingMode",
        "SummaryAction",
        "USE_POLICY",
        "WatchMode",
        "Watcher",
        "adrive",
        "aresolve_review",
        "arun_call",
        "drive",
        "resolve_policy",
        "run_call",
    ]
    for name in guardrail.runtime.__all__:
        assert getattr(guardrail.runtime, name) is not None


class TupleFrames:
    """Markers as ``("marker", kind, payload, failed)``, replacements as ``("text", text)``."""

    def marker(
        self, kind: MarkerKind, payload: Mapping[str, Any], *, failed: bool = False
    ) -> tuple[Any, ...]:
        return ("marker", kind, dict(payload), failed)

    def text(self, text: str) -> tuple[Any, ...]:
        return ("text", text)


def guarded(
    policy: dict[str, Any],
    scores: Sequence[float],
    answers: Sequence[str],
    streaming: StreamingMode | None = "pass_through",
) -> tuple[StreamGate[Any], Any]:
    """A gate over a generator that writes ``answers[attempt - 1]`` token by token."""
    config = GuardConfig(policy, ScriptedScorer(list(scores)))
    loop = config.loop("q", rng=lambda: 0.0)
    gate: StreamGate[Any] = StreamGate(loop, TupleFrames(), streaming=streaming)

    def attempt(plan: AttemptPlan) -> Iterator[Any]:
        watch = config.watch("q", RunContext(attempt=plan.attempt))
        with gate.attempt(watch=watch):
            watch.start()
            for token in tokens_of(answers[plan.attempt - 1]):
                watch.feed(token)
                yield from gate.push(token, [watch])
            watch.end()
        gate.end([watch], watch.answer)

    return gate, attempt


def split(items: list[Any]) -> tuple[str, list[tuple[Any, ...]]]:
    text = "".join(item for item in items if isinstance(item, str))
    return text, [item for item in items if not isinstance(item, str)]


def test_pass_through_shows_then_takes_back_the_interrupted_attempt() -> None:
    gate, attempt = guarded(RETRY, FAILS_AT_2 + PASSES_3, [FIRST, SECOND])
    items = list(drive(gate, attempt, sleep=lambda s: None))
    restart = next(i for i, item in enumerate(items) if isinstance(item, tuple))
    assert "".join(items[:restart]) == "Step one.\nStep two."  # the closing "\n" is cut
    assert items[restart] == (
        "marker",
        "restart",
        {"next_attempt": 2, "action": "retry", "discard_chunks": restart},
        False,
    )
    text, markers = split(items[restart + 1 :])
    assert text == SECOND
    assert [(m[1], m[2]["status"]) for m in markers] == [("final", "ok")]
    assert gate.result is not None
    assert [a.kind for a in gate.result.attempts] == ["initial", "retry"]


def test_hold_back_shows_only_what_passed_a_checkpoint() -> None:
    gate, attempt = guarded(RETRY, FAILS_AT_2 + PASSES_3, [FIRST, SECOND], "hold_back")
    items = list(drive(gate, attempt, sleep=lambda s: None))
    text, markers = split(items)
    assert text == "Step one.\n" + SECOND
    assert [m[1] for m in markers] == ["restart", "final"]
    assert markers[0][2]["discard_chunks"] == len(tokens_of("Step one.\n"))


def test_a_fallback_answer_replaces_the_interrupted_one() -> None:
    policy = scripted_policy({"type": "abort", "fallback_answer": "Sorry."})
    gate, attempt = guarded(policy, FAILS_AT_2, [FIRST])
    items = list(drive(gate, attempt))
    assert items[-3][1:3] == (
        "restart",
        {"status": "fallback", "action": "abort", "discard_chunks": 5},
    )
    assert items[-2] == ("text", "Sorry.")
    assert items[-1][1] == "final"
    assert items[-1][2]["status"] == "fallback"


def test_an_abort_ends_with_a_failed_final_marker_then_raises() -> None:
    gate, attempt = guarded(scripted_policy("abort"), FAILS_AT_2, [FIRST])
    items: list[Any] = []
    with pytest.raises(GuardAborted) as caught:
        items.extend(drive(gate, attempt))
    assert items[-1][:2] == ("marker", "final")
    assert items[-1][2]["status"] == "aborted"
    assert items[-1][3] is True  # failed: the stream says so before the signal is raised
    assert caught.value.result is not None


def test_a_gate_that_releases_nothing_says_what_was_written() -> None:
    """``streaming=None``: the framework streamed the text, the restart names it."""
    gate, attempt = guarded(RETRY, FAILS_AT_2 + PASSES_3, [FIRST, SECOND], streaming=None)
    emitted: list[Any] = []
    result = run_call(gate, attempt, sleep=lambda s: None, emit=emitted.append)
    assert result.answer == SECOND
    assert [m[1] for m in emitted] == ["restart", "final"]
    assert emitted[0][2] == {
        "next_attempt": 2,
        "action": "retry",
        "partial": "Step one.\nStep two.\n",  # the partial answer, up to the checkpoint
    }


async def test_the_async_driver_runs_the_same_attempts() -> None:
    gate, attempt = guarded(RETRY, FAILS_AT_2 + PASSES_3, [FIRST, SECOND])

    async def aattempt(plan: AttemptPlan) -> Any:
        for item in attempt(plan):
            yield item

    async def no_sleep(seconds: float) -> None:
        return None

    items = [item async for item in adrive(gate, aattempt, sleep=no_sleep)]
    text, markers = split(items)
    assert text == "Step one.\nStep two." + SECOND
    assert [m[1] for m in markers] == ["restart", "final"]


def test_settling_before_the_attempt_ended_is_an_error() -> None:
    gate, _ = guarded(RETRY, [], [FIRST])
    gate.begin()
    with pytest.raises(RuntimeError, match="end"):
        gate.settle()


def test_guarded_result_is_generic_in_its_output() -> None:
    from guardrail.runtime.records import GuardedResult

    result: GuardedResult[str] = GuardedResult(output="text", answer="text", status="passed")
    assert GuardedResult[int].__origin__ is GuardedResult  # type: ignore[attr-defined]
    assert result.output == "text"
