"""The framework-agnostic runtime: watch, signals, least confident span, the action loop."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lc_fakes import scripted_policy

from guardrail.audit import JsonlAuditLog
from guardrail.errors import GuardrailConfigError, GuardSignal
from guardrail.events import CheckpointEvent, Stage
from guardrail.policy import Policy, PolicyEngine, RunContext
from guardrail.review import SQLiteReviewQueue
from guardrail.runtime import (
    AnswerWatch,
    AttemptPlan,
    GuardAborted,
    GuardConfig,
    MemoryReviewSink,
    QueueReviewSink,
    ReviewRejected,
    resolve_policy,
)
from guardrail.runtime.config import policy_action_types
from guardrail.runtime.drive import run_attempts
from guardrail.runtime.loop import GuardLoop
from guardrail.runtime.records import AttemptReport
from guardrail.runtime.spans import least_confident_span
from guardrail.testing.scorers import ScriptedScorer

TEXT = "one\ntwo\nthree\n"


def event(index: int, stage: Stage, start: int, end: int, revised: float) -> CheckpointEvent:
    return CheckpointEvent(index, stage, "t", end, start, end, revised, revised)


# ------------------------------------------------------------------------------- spans
def test_least_confident_span_is_the_biggest_drop() -> None:
    answer = "First fine.\nThen wrong.\nThen ok.\n"
    events = [
        event(0, Stage.QUESTION, 0, 0, 0.9),
        event(1, Stage.PROCESS, 0, 12, 0.8),
        event(2, Stage.PROCESS, 12, 24, 0.4),
        event(3, Stage.PROCESS, 24, 33, 0.35),
    ]
    span = least_confident_span(answer, events)
    assert span.text == "Then wrong."
    assert span.event is events[2]
    assert span.drop == pytest.approx(0.4)


def test_least_confident_span_without_drops_is_the_lowest() -> None:
    answer = "aaa\nbbb\nccc"
    events = [event(1, Stage.PROCESS, 0, 4, 0.2), event(2, Stage.OUTCOME, 4, 11, 0.6)]
    assert least_confident_span(answer, events).text == "aaa"
    assert least_confident_span("no checkpoints", []).text == "no checkpoints"


# ------------------------------------------------------------------------------- watch
def watch(policy: dict[str, Any], scores: Any, **options: Any) -> AnswerWatch:
    engine = PolicyEngine(Policy.from_dict(policy))
    return AnswerWatch(engine, ScriptedScorer(scores), "q", context=RunContext(), **options)


def feed(w: AnswerWatch, text: str = TEXT) -> None:
    for piece in text.replace("\n", "\n\0").split("\0"):
        w.feed(piece)
    w.finish()


def test_watch_raises_interrupting_decisions_and_records_the_rest() -> None:
    w = watch(scripted_policy({"type": "flag", "label": "meh"}, below=0.5), [0.9, 0.4, 0.3, 0.2])
    feed(w)
    assert [f["label"] for f in w.flags] == ["meh", "meh"]
    assert w.checkpoints_passed == 4
    w = watch(scripted_policy("retry"), [0.9, 0.4, 0.3, 0.2])
    with pytest.raises(GuardSignal) as caught:
        feed(w)
    assert caught.value.partial_answer == "one\ntwo\n"
    assert w.done
    assert w.checkpoints_passed == 1


def test_observe_mode_and_provisional_review_never_interrupt() -> None:
    w = watch(scripted_policy("abort"), [0.1, 0.1, 0.1, 0.1], mode="observe")
    feed(w)
    assert [d.action.type for d in w.decisions] == ["abort", "abort", "abort", "continue"]
    review = {"type": "human_review", "mode": "provisional"}
    w = watch(scripted_policy(review), [0.9, 0.1, 0.9, 0.9])
    feed(w)
    assert w.pending_review is not None
    assert w.pending_review.rule == "low"


@pytest.mark.parametrize(("on_error", "raises"), [("fail_open", False), ("fail_closed", True)])
def test_scorer_failures_follow_on_error(on_error: str, raises: bool) -> None:
    w = AnswerWatch(
        PolicyEngine(Policy.from_dict(scripted_policy("retry", on_error=on_error))),
        ScriptedScorer([0.9, 0.9], fail_on=2),
        "q",
    )
    if raises:
        with pytest.raises(GuardAborted):
            feed(w)
        return
    feed(w)
    assert not w.scoring
    assert w.decisions[-1].failure_mode == "fail_open"
    assert w.answer == TEXT


# -------------------------------------------------------------------------------- loop
Script = Callable[[AttemptPlan], tuple[str, list[float]]]


def attempts_from(policy: dict[str, Any], script: Script, **loop_options: Any) -> Any:
    """A fake framework: each attempt streams ``script(plan)``'s answer through a watch."""
    config = GuardConfig(policy, ScriptedScorer([0.5]), **loop_options.pop("config", {}))
    plans: list[AttemptPlan] = []

    def attempt(plan: AttemptPlan) -> AttemptReport:
        plans.append(plan)
        answer, scores = script(plan)
        context = RunContext(attempt=plan.attempt, model=plan.model)
        w = AnswerWatch(config.engine, ScriptedScorer(scores), "q", context=context)
        signal = None
        try:
            feed(w, answer)
        except GuardSignal as exc:
            signal = exc
        return AttemptReport(
            answer=w.answer if signal is None else signal.partial_answer,
            output=None if signal else w.answer.upper(),
            events=w.events,
            decisions=w.decisions,
            flags=w.flags,
            signal=signal,
            pending_review=w.pending_review,
        )

    loop = config.loop("q", model="small", **loop_options)
    return loop, attempt, plans


def bad_then_good(plan: AttemptPlan) -> tuple[str, list[float]]:
    return TEXT, [0.9, 0.1, 0.9, 0.9] if plan.attempt == 1 else [0.9, 0.9, 0.9, 0.9]


def test_retry_waits_the_policy_backoff_with_tenacity() -> None:
    action = {"type": "retry", "max_attempts": 3, "temperature": 0.2}
    action["backoff"] = {"initial_s": 0.5, "max_s": 4.0, "multiplier": 2.0, "jitter": 0.1}
    slept: list[float] = []

    def script(plan: AttemptPlan) -> tuple[str, list[float]]:
        return TEXT, [0.9, 0.1] if plan.attempt < 3 else [0.9, 0.9, 0.9, 0.9]

    loop, attempt, plans = attempts_from(scripted_policy(action), script, rng=lambda: 1.0)
    result = run_attempts(loop, attempt, sleep=slept.append)
    assert slept == [pytest.approx(0.55), pytest.approx(1.1)]
    assert [p.kind for p in plans] == ["initial", "retry", "retry"]
    assert plans[1].temperature == 0.2
    assert result.status == "ok"
    assert result.output == TEXT.upper()
    assert [a.type for a in result.actions] == ["retry", "retry"]
    assert [a.partial for a in result.attempts] == [True, True, False]


def test_exhausted_retries_escalate_then_abort_with_the_fallback() -> None:
    action = {
        "type": "retry",
        "max_attempts": 1,
        "backoff": {"initial_s": 0, "max_s": 0},
        "on_exhausted": {
            "type": "escalate",
            "targets": ["medium", "large"],
            "on_exhausted": {"type": "abort", "fallback_answer": "I do not know."},
        },
    }
    loop, attempt, plans = attempts_from(scripted_policy(action), lambda p: (TEXT, [0.9, 0.1]))
    result = run_attempts(loop, attempt, sleep=lambda s: None)
    assert [(p.kind, p.model) for p in plans] == [
        ("initial", "small"),
        ("retry", "small"),
        ("escalate", "medium"),
        ("escalate", "large"),
    ]
    assert result.status == "fallback"
    assert result.output == "I do not know."
    assert [a.type for a in result.actions] == ["retry", "escalate", "escalate", "abort"]


def test_abort_without_fallback_raises_with_the_record() -> None:
    loop, attempt, _ = attempts_from(scripted_policy("abort"), lambda p: (TEXT, [0.9, 0.1]))
    with pytest.raises(GuardAborted) as caught:
        run_attempts(loop, attempt)
    result = caught.value.result
    assert result is not None
    assert result.status == "aborted"
    assert result.attempts[0].answer == "one\ntwo\n"


def test_self_correction_names_the_least_confident_span() -> None:
    action = {
        "type": "self_correct",
        "max_rounds": 1,
        "feedback_template": "Fix [{least_confident_span}] ({confidence:.1f}) of: {answer}",
    }
    loop, attempt, plans = attempts_from(scripted_policy(action), bad_then_good)
    result = run_attempts(loop, attempt)
    assert plans[1].feedback == "Fix [two] (0.1) of: one\ntwo\n"
    assert plans[1].correction_round == 1
    assert result.status == "ok"
    loop, attempt, _ = attempts_from(scripted_policy(action), lambda p: (TEXT, [0.9, 0.1]))
    with pytest.raises(GuardAborted, match="rounds exhausted"):
        run_attempts(loop, attempt)


def test_blocking_review_releases_the_edit_and_raises_on_reject() -> None:
    action = {"type": "human_review", "mode": "blocking", "queue": "math"}
    sink = MemoryReviewSink(auto=lambda item: ("edit", item["answer"] + "three (checked)"))
    config = {"review": sink}
    loop, attempt, _ = attempts_from(scripted_policy(action), bad_then_good, config=config)
    result = run_attempts(loop, attempt)
    assert result.status == "edited"
    assert result.output == "one\ntwo\nthree (checked)"
    item = sink.items[result.review_id]
    assert item["partial"] is True
    assert item["queue"] == "math"
    assert item["confidence"] == 0.1
    sink = MemoryReviewSink(auto=lambda item: ("reject", None))
    loop, attempt, _ = attempts_from(
        scripted_policy(action), bad_then_good, config={"review": sink}
    )
    with pytest.raises(ReviewRejected) as caught:
        run_attempts(loop, attempt)
    assert caught.value.result is not None
    assert caught.value.result.status == "rejected"


def test_provisional_review_returns_at_once(tmp_path: Path) -> None:
    queue = SQLiteReviewQueue(tmp_path / "review.db")
    action = {"type": "human_review", "mode": "provisional"}
    loop, attempt, _ = attempts_from(
        scripted_policy(action, stage="outcome"),
        lambda p: (TEXT, [0.9, 0.9, 0.9, 0.2]),
        config={"review": queue},
    )
    result = run_attempts(loop, attempt)
    assert result.status == "pending_review"
    assert result.output == TEXT.upper()
    item = queue.get(result.review_id)
    assert item.status.value == "pending"
    assert item.answer == TEXT
    assert not item.partial
    queue.decide(item.id, "approve", "ann")
    sink = QueueReviewSink(queue, poll_s=0.01)
    assert sink.wait(item.id, 1.0).answer == TEXT


def test_actions_are_audited(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    audit = GuardConfig(scripted_policy("retry"), audit=log).audit_run("run-1")
    loop, attempt, _ = attempts_from(scripted_policy("retry"), bad_then_good, audit=audit)
    run_attempts(loop, attempt, sleep=lambda s: None)
    records = log.read_run("run-1")
    assert [record.kind.value for record in records] == ["run_start", "action", "run_end"]
    assert records[1].payload["action"] == "retry"
    assert records[2].payload["status"] == "ok"


def test_max_attempts_caps_any_loop() -> None:
    action = {"type": "escalate", "targets": [f"m{n}" for n in range(10)]}
    loop, attempt, plans = attempts_from(
        scripted_policy(action), lambda p: (TEXT, [0.9, 0.1]), config={"max_attempts": 3}
    )
    with pytest.raises(GuardAborted, match="3 attempts"):
        run_attempts(loop, attempt)
    assert len(plans) == 3


# ------------------------------------------------------------------------- config, import
def test_policies_resolve_from_presets_mappings_and_files(tmp_path: Path) -> None:
    assert resolve_policy("strict").name == "strict"
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nname: from-file\n")
    assert resolve_policy(path).name == "from-file"
    assert resolve_policy(scripted_policy("abort")).name == "test"
    with pytest.raises(GuardrailConfigError, match="neither a preset"):
        resolve_policy("no-such-policy")
    assert policy_action_types(resolve_policy("default")) >= {"retry", "escalate", "human_review"}


def test_a_loop_that_needs_review_without_a_sink_fails_clearly() -> None:
    policy = Policy.from_dict(scripted_policy({"type": "human_review", "mode": "blocking"}))
    loop = GuardLoop(policy, question="q")
    signal = GuardSignal(
        "x",
        decision=PolicyEngine(policy).evaluate(event(1, Stage.PROCESS, 0, 3, 0.1), RunContext()),
    )
    with pytest.raises(GuardrailConfigError, match="no review sink"):
        loop.settle(AttemptReport(answer="abc", signal=signal))


def test_importing_the_runtime_imports_no_framework_and_no_torch() -> None:
    code = (
        "import sys, guardrail.runtime; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'langchain_core', 'langgraph', 'litellm')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
