"""A remote scorer inside a guarded answer: clean aborts, the call's budget, late results."""

from __future__ import annotations

import time
from typing import Any

import pytest

from guardrail.errors import ScorerUnavailableError
from guardrail.policy import Policy, PolicyEngine, RunContext
from guardrail.policy.actions import AbortAction
from guardrail.runtime import AnswerWatch, GuardAborted
from guardrail.scorers.remote import RemoteScorer
from guardrail.scorers.tickets import DirectScoring
from guardrail.testing.hostile import HostileScorerService, Reply

SECRET = "pw-Zq81xLm"
SLACK = 1.0  # scheduling on a loaded machine; each hostile reply below lasts 6 s or more


def policy(
    on_error: str = "fail_closed", overload: str | None = None, question: bool = True
) -> Policy:
    document: dict[str, Any] = {
        "version": 1,
        "name": "remote",
        "checkpoints": {
            "strategies": [{"type": "paragraph"}],
            "min_gap": 0,
            "score_question": question,
        },
        "on_error": on_error,
        "rules": [],
        "default_action": "continue",
    }
    if overload is not None:
        document["overload"] = overload
    return Policy.from_dict(document)


@pytest.mark.parametrize("length", [10, 250, 5_000, 2_000_000])
def test_fail_closed_aborts_cleanly_whatever_the_error_text(length: int) -> None:
    engine = PolicyEngine(policy())
    error = ScorerUnavailableError(
        f"POST http://svc:{SECRET}@h/score?api_key={SECRET} answered \x1b[31m" + "x" * length
    )
    decision = engine.decide_error(error, None, RunContext())
    assert isinstance(decision.action, AbortAction)
    message = decision.action.message
    assert message.startswith("Aborted: confidence could not be estimated")
    assert SECRET not in message
    assert "\x1b" not in message
    assert decision.error is not None
    assert SECRET not in decision.error
    assert SECRET not in " ".join(decision.reasons)


def feed_and_finish(watch: AnswerWatch, text: str) -> None:
    watch.feed(text)
    watch.finish()


def guarded_watch(
    svc: HostileScorerService, budget: float, **options: Any
) -> tuple[AnswerWatch, RemoteScorer]:
    scorer = RemoteScorer(svc.url, "ray", latency_budget_s=options.pop("scorer_budget", budget))
    watch = AnswerWatch(
        PolicyEngine(options.pop("policy", policy())),
        scorer,
        "q",
        context=RunContext(),
        latency_budget_s=budget,
        scoring=DirectScoring(scorer),
        **options,
    )
    return watch, scorer


@pytest.mark.parametrize("reply", [Reply.hang(), Reply.trickle(b" " * 60, 0.1)], ids=str)
def test_the_guarded_calls_budget_holds_end_to_end(reply: Reply) -> None:
    budget = 0.5
    with HostileScorerService([reply]) as svc:
        watch, scorer = guarded_watch(svc, budget, scorer_budget=30.0)  # the call's is shorter
        started = time.monotonic()
        with pytest.raises(GuardAborted) as info:
            feed_and_finish(watch, "The answer is 4.\n\n")
        elapsed = time.monotonic() - started
        scorer.close()
    assert elapsed < budget + SLACK
    decision = info.value.decision
    assert decision is not None
    assert decision.failure_mode == "fail_closed"


def test_a_late_process_estimate_is_skipped_and_reported_as_in_process() -> None:
    heard: list[tuple[str, Any]] = []
    script = [Reply.slow_body(b'{"values": [0.9]}', 6.0), Reply.values(0.9)]
    with HostileScorerService(script) as svc:
        watch, scorer = guarded_watch(
            svc,
            0.5,
            policy=policy(overload="skip_process", question=False),
            listener=lambda kind, payload: heard.append((kind, dict(payload))),
        )
        watch.feed("First step.\n\nSecond step.\n\n")
        watch.finish()
        scorer.close()
    overloads = [payload for kind, payload in heard if kind == "overload"]
    assert len(overloads) == 1
    assert overloads[0]["cause"] == "deadline"
    assert "late result is discarded" in overloads[0]["detail"]
    assert not [kind for kind, _ in heard if kind == "error"]
