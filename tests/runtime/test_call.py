"""GuardedCall without a framework: an Attempt of string tokens, a scripted scorer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import pytest
from lc_fakes import scripted_policy, tokens_of

from guardrail.errors import GuardrailConfigError
from guardrail.policy import RunContext
from guardrail.runtime import (
    DEFAULT_REVIEW_TIMEOUT_S,
    AttemptOutput,
    AttemptPlan,
    CallSpec,
    ChunkWatcher,
    Finish,
    GuardAborted,
    GuardConfig,
    GuardedCall,
    GuardOptions,
    MarkerKind,
)
from guardrail.runtime.loop import GuardLoop
from guardrail.runtime.options import split_settings
from guardrail.runtime.records import AttemptReport
from guardrail.testing.scorers import ScriptedScorer

FIRST = "Step one.\nStep two.\nStep three.\nAnswer: 41"
SECOND = "Let me redo it.\nCarefully now.\nAnswer: 42"
FAILS_AT_2 = [0.9, 0.2]
PASSES_3 = [0.9, 0.9, 0.9]
RETRY = scripted_policy({"type": "retry", "backoff": {"initial_s": 0.0, "max_s": 0.0}})


class Frames:
    def marker(
        self, kind: MarkerKind, payload: Mapping[str, object], *, failed: bool = False
    ) -> tuple[object, ...]:
        return ("marker", kind, dict(payload), failed)

    def text(self, text: str) -> tuple[object, ...]:
        return ("text", text)


class TokenAttempt:
    """An attempt that writes ``answers[attempt - 1]`` token by token; the runtime watches."""

    def __init__(self, call: GuardedCall[Any], plan: AttemptPlan, answers: Sequence[str]):
        self.answer = answers[plan.attempt - 1]
        watch = call.watch(RunContext(attempt=plan.attempt, model=plan.model))
        self.watcher: ChunkWatcher[Any] = ChunkWatcher(watch, str)
        self.reports: list[AttemptReport] = []

    def open(self) -> Iterator[Any]:
        yield from tokens_of(self.answer)

    async def aopen(self) -> AsyncIterator[Any]:
        for token in tokens_of(self.answer):
            yield token

    def output(self, chunks: Sequence[Any], interrupted: bool) -> AttemptOutput:
        return AttemptOutput(None if interrupted else "".join(chunks))

    def reported(self, report: AttemptReport) -> None:
        self.reports.append(report)


def new_call(policy: dict[str, Any], scores: Sequence[float]) -> GuardedCall[Any]:
    config = GuardConfig(policy, ScriptedScorer(list(scores)))
    spec = CallSpec("q", model="m", source="test")
    return GuardedCall(config, spec, frames=Frames(), rng=lambda: 0.0)


def test_a_call_retries_through_the_attempt_protocol_and_says_what_it_took_back() -> None:
    call = new_call(RETRY, FAILS_AT_2 + PASSES_3)
    items = list(call.stream(lambda plan: TokenAttempt(call, plan, [FIRST, SECOND])))
    restart = next(i for i, item in enumerate(items) if isinstance(item, tuple))
    assert "".join(items[:restart]) == "Step one.\nStep two."
    assert items[restart][1:3] == (
        "restart",
        {"next_attempt": 2, "action": "retry", "discard_chunks": restart},
    )
    assert items[-1][1] == "final"
    assert call.result is not None
    assert call.result.answer == SECOND
    assert call.result.output == SECOND
    assert [a.kind for a in call.result.attempts] == ["initial", "retry"]


async def test_the_async_path_gives_the_same_items_as_the_sync_one() -> None:
    sync_call = new_call(RETRY, FAILS_AT_2 + PASSES_3)
    expected = list(sync_call.stream(lambda plan: TokenAttempt(sync_call, plan, [FIRST, SECOND])))
    async_call = new_call(RETRY, FAILS_AT_2 + PASSES_3)

    async def no_sleep(seconds: float) -> None:
        return None

    stream = async_call.astream(
        lambda plan: TokenAttempt(async_call, plan, [FIRST, SECOND]), sleep=no_sleep
    )
    items = [item async for item in stream]
    assert len(items) == len(expected)
    assert [i for i in items if isinstance(i, str)] == [i for i in expected if isinstance(i, str)]
    assert [i[:2] for i in items if isinstance(i, tuple)] == [
        i[:2] for i in expected if isinstance(i, tuple)
    ]


def test_an_abort_raises_after_its_final_marker_and_the_attempt_was_reported() -> None:
    call = new_call(scripted_policy("abort"), FAILS_AT_2)
    attempts: list[TokenAttempt] = []

    def open_attempt(plan: AttemptPlan) -> TokenAttempt:
        attempts.append(TokenAttempt(call, plan, [FIRST]))
        return attempts[-1]

    emitted: list[Any] = []
    with pytest.raises(GuardAborted) as caught:
        call.run(open_attempt, emit=emitted.append)
    assert emitted[-1][:2] == ("marker", "final")
    assert emitted[-1][3] is True
    assert caught.value.result is not None
    assert caught.value.result.status == "aborted"
    assert [r.signal is not None for r in attempts[0].reports] == [True]


def test_a_hand_off_ends_the_call_unresolved() -> None:
    call = new_call(RETRY, FAILS_AT_2)

    class HandsOff(TokenAttempt):
        def reported(self, report: AttemptReport) -> None:
            result = call.hand_off("retry", "raised to the framework", {"retryable": True})
            raise RuntimeError(result.status)

    with pytest.raises(RuntimeError, match="unresolved"):
        call.run(lambda plan: HandsOff(call, plan, [FIRST]))


async def test_one_attempt_by_hand_is_what_a_proxy_does() -> None:
    call = new_call(scripted_policy("flag"), [0.9] * 8)
    call.begin()
    watch = call.watch(RunContext(model="m"))
    shown: list[Any] = []
    with call.attempt(watch):
        watch.start()
        for token in tokens_of(FIRST):
            watch.feed(token)
            shown.extend(call.push(token, [watch]))
        watch.end()
    step = await call.asettle([watch], FIRST)
    assert isinstance(step, Finish)
    closing = call.close(step)
    assert "".join(shown) == FIRST
    assert closing[-1][1] == "final"
    assert step.result.status == "ok"


def test_the_options_have_one_default_review_timeout_on_every_path() -> None:
    config = GuardConfig(RETRY, ScriptedScorer([0.9]))
    assert GuardOptions().review_timeout_s == DEFAULT_REVIEW_TIMEOUT_S
    assert config.review_timeout_s == DEFAULT_REVIEW_TIMEOUT_S
    assert config.loop("q").review_timeout_s == DEFAULT_REVIEW_TIMEOUT_S
    assert GuardLoop(config.policy, question="q").review_timeout_s == DEFAULT_REVIEW_TIMEOUT_S


def test_settings_given_as_keywords_override_the_options() -> None:
    base = GuardOptions(streaming="hold_back", hold_back_tokens=4)
    config = GuardConfig(RETRY, ScriptedScorer([0.9]), options=base, review_timeout_s=10.0)
    assert config.options.streaming == "hold_back"
    assert config.review_timeout_s == 10.0
    settings, rest = split_settings({"streaming": "hold_back", "temperature": 0.2})
    assert settings == {"streaming": "hold_back"}
    assert rest == {"temperature": 0.2}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"mode": "watch"}, "mode"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"review_timeout_s": 0.0}, "review_timeout_s"),
        ({"streaming": "later"}, "streaming"),
        ({"hold_back_tokens": 0}, "hold_back_tokens"),
        ({"latency_budget_s": "soon"}, "latency_budget_s"),
    ],
)
def test_a_bad_setting_is_refused_by_name(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(GuardrailConfigError, match=named):
        GuardOptions(**settings)
