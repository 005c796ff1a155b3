"""Hand-written audit records of one guarded run: a retried attempt, then a flagged one."""

from __future__ import annotations

from typing import Any

from guardrail.audit import AuditLog

RUN_ID = "run-7f3a"
QUESTION = "Tom has 3 apples and buys 5 more. <b>How many</b>?"
POLICY = "demo"

# attempt 1: two paragraphs, the second one weak (it holds a <script> tag) -> retry
FIRST = ["Tom starts with 3 apples.\n", "He buys <script>alert(1)</script> 5, so 3 * 5 = 15.\n"]
# attempt 2: three paragraphs and the outcome, the middle one flagged
SECOND = ["Tom starts with 3 apples.\n", "He buys 5 more: 3 + 5 = 8.\n", "Check: 8 - 5 = 3.\n"]
OUTCOME_TAIL = "The answer is 8."


def _event(
    index: int, stage: str, token: int, span: tuple[int, int], confidence: float
) -> dict[str, Any]:
    return {
        "index": index,
        "stage": stage,
        "reason": stage if stage != "process" else "paragraph",
        "token_index": token,
        "char_start": span[0],
        "char_end": span[1],
        "confidence": confidence,
        "revised": confidence,
        "latency_s": 0.012,
        "entropy": None,
        "revisions": [confidence],
    }


def _decision(event: dict[str, Any], attempt: int, action: dict[str, Any], rule: str | None) -> Any:
    reasons = [f"rule {rule} matched"] if rule else ["no rule matched"]
    return {
        "policy": POLICY,
        "rule": rule,
        "action": action,
        "reasons": reasons,
        "event": event,
        "context": {"attempt": attempt, "model": "gen-a", "tags": [], "metadata": {}},
        "failure_mode": None,
        "error": None,
    }


def _attempt(
    log: AuditLog,
    run_id: str,
    attempt: int,
    parts: list[str],
    scores: list[float],
    actions: dict[int, tuple[dict[str, Any], str]],
    *,
    with_text: bool,
    outcome: str | None = None,
) -> None:
    """Record the question checkpoint, one per paragraph in ``parts``, maybe an outcome."""
    spans: list[tuple[str, tuple[int, int], str]] = [("question", (0, 0), "")]
    position = 0
    for part in parts:
        spans.append(("process", (position, position + len(part)), part))
        position += len(part)
    if outcome is not None:
        spans.append(("outcome", (position, position + len(outcome)), outcome))
    for index, ((stage, span, text), score) in enumerate(zip(spans, scores, strict=True)):
        event = _event(index, stage, span[1] // 3, span, score)
        payload = {**event, "model": "gen-a", "attempt": attempt}
        if with_text:
            payload["text"] = text
        log.record("checkpoint", run_id, payload, policy=POLICY, policy_version=1)
        action, rule = actions.get(index, ({"type": "continue"}, None))
        log.record(
            "decision",
            run_id,
            _decision(event, attempt, action, rule),
            policy=POLICY,
            policy_version=1,
        )


def write_run(log: AuditLog, run_id: str = RUN_ID, *, with_text: bool = True) -> None:
    """Record a whole guarded run the way the runtime does (see ``guardrail.runtime``)."""
    record = log.record
    record("run_start", run_id, {"question": QUESTION, "model": "gen-a", "run_id": run_id})
    retry = {"type": "retry", "max_attempts": 1, "temperature": 0.2}
    _attempt(log, run_id, 1, FIRST, [0.8, 0.7, 0.2], {2: (retry, "weak")}, with_text=with_text)
    record(
        "action",
        run_id,
        {
            "type": "retry",
            "attempt": 1,
            "rule": "weak",
            "reasons": ["rule weak matched"],
            "checkpoint": 2,
            "confidence": 0.2,
            "outcome": "attempt 2 scheduled",
            "detail": {"next_attempt": 2, "model": "gen-a", "delay_s": 0.0},
            "duration_s": 0.0,
            "action": "retry",
        },
        policy=POLICY,
        policy_version=1,
    )
    flag = {"type": "flag", "label": "shaky", "severity": "warning"}
    _attempt(
        log,
        run_id,
        2,
        SECOND,
        [0.9, 0.8, 0.5, 0.85, 0.9],
        {2: (flag, "shaky")},
        with_text=with_text,
        outcome=OUTCOME_TAIL,
    )
    record(
        "run_end",
        run_id,
        {"status": "flagged", "attempts": 2, "final_confidence": 0.9, "review_id": None},
        policy=POLICY,
        policy_version=1,
        duration_s=1.5,
    )
