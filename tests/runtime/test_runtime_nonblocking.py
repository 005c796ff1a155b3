"""Checkpoints scored beside the stream: tokens flow, decisions land later, waits are bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guardrail.audit import JsonlAuditLog
from guardrail.audit.run import AuditRun
from guardrail.errors import GuardSignal
from guardrail.events import Stage
from guardrail.policy import Policy, PolicyEngine, RunContext
from guardrail.runtime import AnswerWatch, GuardAborted
from guardrail.scoring_worker import ScoringWorker
from guardrail.testing.scorers import ScriptedScorer

TOKENS = ["Step", " one", ".\n", " and", " then", " more", " words", " here", ".\n", " end"]


def policy(
    *,
    blocking: bool = True,
    action: str = "abort",
    below: float = 0.5,
    on_error: str = "fail_closed",
    overload: str = "skip_process",
    score_question: bool = False,
    budget: float = 2.0,
) -> Policy:
    return Policy.from_dict(
        {
            "name": "nb",
            "scorer": {"latency_budget_s": budget},
            "checkpoints": {
                "strategies": [{"type": "paragraph"}],
                "min_gap": 0,
                "score_question": score_question,
                "blocking": blocking,
            },
            "on_error": on_error,
            "overload": overload,
            "rules": [
                {
                    "name": "low",
                    "when": {"stage": "process", "confidence_below": below},
                    "action": action,
                }
            ],
        }
    )


@pytest.fixture
def hold() -> Iterator[threading.Event]:
    """A gate the scripted scorer waits on; always opened at the end so no thread stays stuck."""
    event = threading.Event()
    yield event
    event.set()


def watch(
    p: Policy, scorer: ScriptedScorer, *, audit: Any = None, **options: Any
) -> tuple[AnswerWatch, ScoringWorker, list[tuple[str, dict[str, Any]]]]:
    worker = ScoringWorker(scorer)
    heard: list[tuple[str, dict[str, Any]]] = []
    w = AnswerWatch(
        PolicyEngine(p),
        scorer,
        "q",
        context=RunContext(),
        scoring=worker,
        latency_budget_s=p.scorer.latency_budget_s,
        audit=audit,
        listener=lambda kind, payload: heard.append((kind, dict(payload))),
        **options,
    )
    return w, worker, heard


def eventually(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the scoring thread"
        time.sleep(0.005)


# ------------------------------------------------------------------------ pass-through
@pytest.mark.parametrize("streamed_meanwhile", [0, 3, 6])
def test_tokens_flow_while_scoring_and_the_decision_lands_tokens_later(
    hold: threading.Event, streamed_meanwhile: int
) -> None:
    scorer = ScriptedScorer([0.1, 0.9, 0.9], hold=hold)
    w, _, _ = watch(policy(blocking=False, budget=60.0), scorer)
    for token in TOKENS[:3]:  # ".\n" closes the first paragraph: checkpoint at token 3
        w.feed(token)
    for token in TOKENS[3 : 3 + streamed_meanwhile]:
        w.feed(token)  # returns although the scorer has not answered
    assert w.pending == 1
    assert scorer.answered == 0
    assert w.token_count == 3 + streamed_meanwhile
    hold.set()
    assert w.wait_scored(60)
    with pytest.raises(GuardAborted) as caught:
        w.feed(TOKENS[3 + streamed_meanwhile])  # the first token after the score landed
    event = caught.value.decision.event
    assert event is not None
    assert event.stage is Stage.PROCESS
    assert event.token_index == 3
    assert event.tokens_passed == streamed_meanwhile + 1
    assert caught.value.partial_answer == "".join(TOKENS[: 4 + streamed_meanwhile])


def test_a_passing_score_lands_in_order_and_finish_waits_for_the_rest(
    hold: threading.Event, tmp_path: Path
) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    run = AuditRun(log, run_id="r1", policy="nb")
    scorer = ScriptedScorer([0.9, 0.8, 0.7], hold=hold)
    w, _, heard = watch(policy(blocking=False, budget=60.0), scorer, audit=run)
    for token in TOKENS[:3]:
        w.feed(token)
    eventually(lambda: len(scorer.calls) == 1)  # the worker is on the first checkpoint
    for token in TOKENS[3:]:
        w.feed(token)
    assert w.events == ()
    assert w.pending == 2
    hold.set()
    w.finish()
    assert [e.stage for e in w.events] == [Stage.PROCESS, Stage.PROCESS, Stage.OUTCOME]
    assert [e.token_index for e in w.events] == [3, 9, 10]
    assert [e.confidence for e in w.events] == [0.9, 0.8, 0.7]
    assert [e.tokens_passed for e in w.events][:2] == [7, 1]  # they landed in finish()
    assert [d.action.type for d in w.decisions] == ["continue"] * 3
    records = [r for r in log.read_run("r1") if r.kind.value == "checkpoint"]
    assert [r.payload["tokens_passed"] for r in records] == [7, 1, 0]
    assert [kind for kind, _ in heard].count("checkpoint") == 3


def test_blocking_checkpoints_still_decide_at_their_token() -> None:
    scorer = ScriptedScorer([0.1])
    w, _, _ = watch(policy(blocking=True), scorer)
    w.feed(TOKENS[0])
    w.feed(TOKENS[1])
    with pytest.raises(GuardAborted) as caught:
        w.feed(TOKENS[2])
    assert caught.value.decision.event.tokens_passed == 0
    assert caught.value.partial_answer == "".join(TOKENS[:3])


# --------------------------------------------------------------------------- deadline
@pytest.mark.parametrize("blocking", [True, False])
def test_the_deadline_bounds_the_wait_for_a_scorer_that_never_returns(
    hold: threading.Event, tmp_path: Path, blocking: bool
) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    run = AuditRun(log, run_id="r2", policy="nb")
    scorer = ScriptedScorer([0.9, 0.9], hold=hold)  # never answers until the test ends
    p = policy(blocking=blocking, score_question=True, budget=0.5)
    w, worker, _ = watch(p, scorer, audit=run)
    started = time.monotonic()

    def stream() -> None:
        for token in TOKENS:
            w.feed(token)
        w.finish()

    with pytest.raises(GuardAborted) as caught:
        stream()
    waited = time.monotonic() - started
    assert waited < 60  # bounded by the deadline, not by the scorer (which never returns)
    decision = caught.value.decision
    assert decision.failure_mode == "fail_closed"
    assert "ScorerTimeoutError" in (decision.error or "")
    assert "late result is discarded" in (decision.error or "")
    errors = [r for r in log.read_run("r2") if r.kind.value == "error"]
    assert errors[-1].payload["late_result"] == "discarded"
    assert errors[-1].payload["deadline_s"] == 0.5
    hold.set()  # the scorer finally answers: the late result is dropped
    assert worker.wait_idle(60)
    assert worker.stats.late_results == 1
    assert w.events == ()


def test_fail_open_on_a_missed_deadline_lets_the_answer_go_on(hold: threading.Event) -> None:
    scorer = ScriptedScorer([0.9], hold=hold)
    p = policy(score_question=True, budget=0.2, on_error="fail_open")
    w, _, _ = watch(p, scorer)
    for token in TOKENS:
        w.feed(token)
    w.finish()
    assert not w.scoring
    assert w.answer == "".join(TOKENS)
    assert w.decisions[-1].failure_mode == "fail_open"


# --------------------------------------------------------------------------- overload
def first_process_hangs(hold: threading.Event) -> Any:
    """Scores 0.9; the first process checkpoint waits for ``hold`` (a CPU gone slow)."""
    seen: list[str] = []

    def script(question: str, answer: str) -> float:
        seen.append(answer)
        if len(seen) == 2:  # question, then the first process checkpoint
            hold.wait()
        return 0.9

    return script


def test_overload_skips_process_checkpoints_and_says_so(
    hold: threading.Event, tmp_path: Path
) -> None:
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    run = AuditRun(log, run_id="r3", policy="nb")
    scorer = ScriptedScorer(first_process_hangs(hold))
    p = policy(score_question=True, budget=3.0)  # on_error fail_closed, overload skip_process
    w, worker, heard = watch(p, scorer, audit=run)
    for token in TOKENS[:9]:
        w.feed(token)  # process checkpoints at tokens 3 (misses its deadline) and 9 (behind)
    hold.set()
    assert worker.wait_idle(60)
    w.feed(TOKENS[9])
    w.finish()  # question and outcome estimates are kept; nothing aborted
    assert [e.stage for e in w.events] == [Stage.QUESTION, Stage.OUTCOME]
    assert [(s.token_index, s.cause) for s in w.skipped] == [(3, "deadline"), (9, "behind")]
    assert all(d.failure_mode is None for d in w.decisions)
    assert w.answer == "".join(TOKENS)
    overloads = [payload for kind, payload in heard if kind == "overload"]
    assert [o["cause"] for o in overloads] == ["deadline", "behind"]
    assert all(o["policy"] == "skip_process" for o in overloads)
    audited = [r.payload for r in log.read_run("r3") if r.kind.value == "action"]
    assert [(a["action"], a["token_index"]) for a in audited] == [("overload", 3), ("overload", 9)]
    assert w.summary()["skipped"][0]["cause"] == "deadline"


@pytest.mark.parametrize(("overload", "aborts"), [("fail_closed", True), ("fail_open", False)])
def test_overload_can_fail_closed_or_open(
    hold: threading.Event, overload: str, aborts: bool
) -> None:
    scorer = ScriptedScorer(first_process_hangs(hold))
    p = policy(score_question=True, budget=3.0, overload=overload)
    w, _, _ = watch(p, scorer)
    caught: list[GuardSignal] = []
    try:
        for token in TOKENS:
            w.feed(token)
        w.finish()
    except GuardSignal as signal:
        caught.append(signal)
    if aborts:
        assert isinstance(caught[0], GuardAborted)
        decision = caught[0].decision
        assert "ScorerOverloadedError" in (decision.error or "")
        assert decision.failure_mode == "fail_closed"
        return
    assert caught == []
    assert not w.scoring
    assert w.decisions[-1].failure_mode == "fail_open"
    assert "policy overload is fail_open" in " ".join(w.decisions[-1].reasons)


def test_a_non_blocking_stream_skips_a_checkpoint_while_its_previous_one_is_queued(
    hold: threading.Event,
) -> None:
    scorer = ScriptedScorer([0.9, 0.9, 0.9], hold=hold)
    w, worker, _ = watch(policy(blocking=False, budget=60.0), scorer)
    other = worker.open("someone else's question")
    blocker = other.request()  # occupies the worker: this stream's checkpoints stay queued
    eventually(blocker.started)
    for token in TOKENS:
        w.feed(token)
    assert [(s.token_index, s.cause) for s in w.skipped] == [(9, "behind")]
    hold.set()
    w.finish()
    other.close()
    assert [e.token_index for e in w.events] == [3, 10]


def test_a_slow_cpu_alone_does_not_abort_an_answer_under_the_default_preset(
    tiny_scorer: Any,
) -> None:
    """Every forward pass of the scorer takes longer than the budget, layer by layer."""
    from guardrail.policy import load_preset

    layers = [m for m in tiny_scorer.model.modules() if type(m).__name__.endswith("DecoderLayer")]
    slow = [layer.register_forward_pre_hook(lambda *_: time.sleep(0.6)) for layer in layers]
    try:
        preset = load_preset("default").model_dump(mode="json")
        preset["scorer"]["latency_budget_s"] = 1.0  # each forward: about 1.2 s
        p = Policy.from_dict(preset)
        assert p.on_error == "fail_closed"
        w, _, _ = watch(p, tiny_scorer)
        line = " one two three four five six seven eight nine.\n"
        tokens = [piece + " " for piece in line.split(" ")] * 3
        for token in tokens:
            w.feed(token)  # never raises: process checkpoints give way
        w.finish()
    finally:
        for handle in slow:
            handle.remove()
    assert [e.stage for e in w.events] == [Stage.QUESTION, Stage.OUTCOME]  # kept, though late
    assert all(e.latency_s > 1.0 for e in w.events)
    assert w.skipped
    assert {s.cause for s in w.skipped} <= {"deadline", "behind"}
    assert all(d.failure_mode is None for d in w.decisions)
    assert w.signal is None
    assert w.answer == "".join(tokens)


def test_an_idle_worker_thread_ends_and_a_new_job_starts_another() -> None:
    scorer = ScriptedScorer([0.7, 0.6])
    worker = ScoringWorker(scorer, idle_exit_s=0.05)
    stream = worker.open("q")
    assert stream.request().wait(60)
    stream.close()
    eventually(lambda: worker._thread is None)  # no stream open, idle: the thread ended
    again = worker.open("q2")
    ticket = again.request()
    assert ticket.wait(60)
    assert ticket.result() == 0.6
    again.close()


def test_abandoned_requests_and_closes_do_not_count_as_falling_behind(
    hold: threading.Event,
) -> None:
    scorer = ScriptedScorer([0.5] * 8, hold=hold)
    worker = ScoringWorker(scorer, max_backlog=3)
    busy = worker.open("q")
    first = busy.request()  # held in the scorer: everything after it waits in the queue
    eventually(lambda: scorer.calls)
    waiting = [busy.request() for _ in range(3)]
    assert worker.behind()  # three requests wait for the model
    for ticket in waiting:
        ticket.abandon()  # nobody waits for them any more: they will only append their text
    assert not worker.behind()
    for i in range(2):
        worker.open(f"other {i}").close()  # an open waits for the model, a close does not
    assert not worker.behind()  # two model jobs of three
    late = worker.open("one more")
    assert worker.behind()
    hold.set()
    assert first.wait(60)
    late.close()
    busy.close()
