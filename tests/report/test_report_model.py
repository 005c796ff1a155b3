"""RunReport from audit records: hand-written logs and a real guarded run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_audit import FIRST, OUTCOME_TAIL, QUESTION, RUN_ID, SECOND, write_run

from guardrail.audit import AuditRun, JsonlAuditLog, SQLiteAuditLog
from guardrail.errors import GuardSignal
from guardrail.events import Stage
from guardrail.policy import Policy, PolicyEngine, RunContext
from guardrail.report import last_run_id, load_run_report, report_from_records
from guardrail.runtime import AnswerWatch
from guardrail.runtime.drive import run_attempts
from guardrail.runtime.loop import AttemptPlan, AttemptReport, GuardLoop
from guardrail.testing import ScriptedScorer

DEMO = {
    "name": "demo",
    "checkpoints": {"min_gap": 0},
    "rules": [
        {
            "name": "weak",
            "when": {"stage": "process", "confidence_below": 0.4},
            "action": {"type": "retry", "max_attempts": 1, "backoff": {"initial_s": 0}},
        }
    ],
}


def test_attempts_checkpoints_decisions_and_actions(log_path: Path) -> None:
    report = load_run_report(JsonlAuditLog(log_path), RUN_ID)
    assert report is not None
    assert (report.source, report.run_id, report.question) == ("audit", RUN_ID, QUESTION)
    assert (report.status, report.duration_s, report.policy_name) == ("flagged", 1.5, "demo")
    assert report.policy_version == "1"
    assert report.started is not None
    first, second = report.attempts
    assert (first.number, first.kind, first.model) == (1, "initial", "gen-a")
    assert first.status == "interrupted"
    assert (second.number, second.kind, second.status) == (2, "retry", "complete")
    assert [e.index for e in first.events] == [0, 1, 2]
    assert [d.action for d in first.decisions] == ["continue", "continue", "retry"]
    assert first.decisions[2].rule == "weak"
    assert first.decisions[2].token_index == first.events[2].token_index
    (action,) = first.actions
    assert action.summary == "retry: attempt 2 scheduled (rule weak)"
    assert [d.action for d in second.decisions].count("flag") == 1
    assert second.events[-1].stage is Stage.OUTCOME
    assert report.final_confidence == 0.9
    assert second.min_confidence == 0.5


def test_answer_text_is_rebuilt_from_checkpoint_spans(log_path: Path) -> None:
    report = load_run_report(JsonlAuditLog(log_path), RUN_ID)
    assert report is not None
    first, second = report.attempts
    assert first.answer == "".join(FIRST)
    assert second.answer == "".join(SECOND) + OUTCOME_TAIL
    segments = second.segments()
    assert [s.text for s in segments] == [*SECOND, OUTCOME_TAIL]
    assert [s.event.index for s in segments if s.event] == [1, 2, 3, 4]


def test_without_recorded_text_segments_keep_their_lengths(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "a.jsonl")
    write_run(log, with_text=False)
    report = load_run_report(log, RUN_ID)
    assert report is not None
    attempt = report.attempts[0]
    assert attempt.answer is None
    segments = attempt.segments()
    assert [s.text for s in segments] == [None, None]
    assert [s.char_end - s.char_start for s in segments] == [len(part) for part in FIRST]


def test_unscored_tail_is_its_own_segment(log_path: Path) -> None:
    report = load_run_report(JsonlAuditLog(log_path), RUN_ID)
    assert report is not None
    attempt = report.attempts[0]
    longer = type(attempt)(number=1, answer=(attempt.answer or "") + "tail", events=attempt.events)
    *_, tail = longer.segments()
    assert (tail.text, tail.event) == ("tail", None)


def test_bci_revisions_are_recomputed_with_the_policy(log_path: Path) -> None:
    policy = Policy.from_dict({**DEMO, "bci": {"alpha": 0.5, "depth": 1}})
    report = load_run_report(JsonlAuditLog(log_path), RUN_ID, policy=policy, policy_source="x.yaml")
    assert report is not None
    events = report.attempts[0].events
    assert [e.revised for e in events] == pytest.approx([0.75, 0.45, 0.2])
    assert events[0].revisions == pytest.approx((0.8, 0.75))
    assert "recomputed" in report.revised_note
    assert report.policy_explanation is not None
    assert "Policy 'demo'" in report.policy_explanation
    assert report.policy_source == "x.yaml"


def test_without_the_policy_revised_values_are_as_recorded(log_path: Path) -> None:
    report = load_run_report(JsonlAuditLog(log_path), RUN_ID)
    assert report is not None
    assert report.policy_explanation is None  # "demo" is not a shipped preset
    assert "as recorded" in report.revised_note
    assert [e.revised for e in report.attempts[0].events] == [0.8, 0.7, 0.2]


def test_a_shipped_preset_name_explains_the_run(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "a.jsonl")
    log.record("run_start", "r", {"question": "Q"}, policy="strict", policy_version=1)
    report = load_run_report(log, "r")
    assert report is not None
    assert report.policy_explanation is not None
    assert "Policy 'strict'" in report.policy_explanation
    assert report.policy_source is not None
    assert "preset 'strict'" in report.policy_source
    assert report.attempts == ()


def test_a_different_policy_is_noted(log_path: Path) -> None:
    other = Policy.from_dict({"name": "other"})
    report = load_run_report(JsonlAuditLog(log_path), RUN_ID, policy=other)
    assert report is not None
    assert any("'other'" in note for note in report.notes)


@pytest.mark.parametrize("name", ["audit.jsonl", "audit.db"])
def test_last_run_id(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    log = JsonlAuditLog(path) if name.endswith(".jsonl") else SQLiteAuditLog(path)
    assert last_run_id(log) is None
    write_run(log, "first")
    write_run(log, "second")
    log.record("checkpoint", "stray", {"index": 0})  # not a run boundary
    assert last_run_id(log) == "second"
    assert load_run_report(log, "nope") is None
    log.close()


def test_errors_and_malformed_records(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "a.jsonl")
    log.record("run_start", "r", {"question": "Q"})
    log.record("error", "r", {"type": "ScorerUnavailableError", "message": "down"})
    log.record("checkpoint", "r", {"index": "zero", "stage": "process", "attempt": 1})
    log.record("checkpoint", "r", {"stage": "nonsense"})
    log.record("error", "r", {"type": "RuntimeError", "message": "boom", "attempt": 1})
    log.record("run_end", "r", {"status": "error"})
    report = report_from_records(log.read_run("r"))
    assert report.errors == ("ScorerUnavailableError: down",)
    assert report.attempts[0].errors == ("RuntimeError: boom",)
    assert report.attempts[0].status == "error"
    assert report.notes == ("2 checkpoint record(s) could not be read and were left out.",)
    with pytest.raises(ValueError, match="no audit records"):
        report_from_records([])


def test_a_real_guarded_run(tmp_path: Path) -> None:
    """The runtime's own records (GuardLoop, AnswerWatch, AuditRun) give the expected report."""
    policy = Policy.from_dict(DEMO)
    answers = ["Step one.\nStep two is weak.\nDone.", "Step one.\nStep two.\nThe answer is 8."]
    scores = iter([0.8, 0.7, 0.2, 0.9, 0.8, 0.85, 0.9])
    scorer = ScriptedScorer(lambda q, a: next(scores))
    log = JsonlAuditLog(tmp_path / "audit.jsonl")
    audit = AuditRun(log, policy=policy.name, policy_version=policy.version)
    loop = GuardLoop(policy, question="3+5?", model="m1", audit=audit, run_id=audit.run_id)

    def attempt(plan: AttemptPlan) -> AttemptReport:
        context = RunContext(attempt=plan.attempt, model=plan.model)
        watch = AnswerWatch(PolicyEngine(policy), scorer, "3+5?", context=context, audit=audit)
        signal = None
        try:
            for token in re.findall(r"\S+|\s+", answers[plan.attempt - 1]):
                watch.feed(token)
            watch.finish()
        except GuardSignal as exc:
            signal = exc
        return AttemptReport(
            answer=watch.answer, events=watch.events, decisions=watch.decisions, signal=signal
        )

    result = run_attempts(loop, attempt, sleep=lambda _: None)
    report = load_run_report(log, audit.run_id, policy=policy)
    assert report is not None
    assert (report.status, report.question) == (result.status, "3+5?")
    assert [a.kind for a in report.attempts] == ["initial", "retry"]
    assert [a.model for a in report.attempts] == ["m1", "m1"]
    for mine, theirs in zip(report.attempts, result.attempts, strict=True):
        assert mine.events == theirs.events
        assert [d.action for d in mine.decisions] == [d.action_type for d in theirs.decisions]
        assert mine.text_length == len(theirs.answer)
        segments = mine.segments()
        assert segments[-1].char_end == len(theirs.answer)
        if mine.answer is not None:  # once the runtime records each span's text
            assert mine.answer == theirs.answer
    assert report.attempts[0].actions[0].type == "retry"
