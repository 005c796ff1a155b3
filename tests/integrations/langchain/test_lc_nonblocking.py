"""guard() with non-blocking checkpoints: hold-back releases exactly what a score cleared."""

from __future__ import annotations

from typing import Any

from lc_fakes import FakeStreamingChat, drain, scripted_policy

from guardrail.integrations.langchain import ChunkGate, guard
from guardrail.runtime import GuardAborted
from guardrail.testing.scorers import ScriptedScorer

FIRST = "Step one.\nStep two.\nStep three.\nAnswer: 41"
SECOND = "Let me redo it.\nCarefully now.\nAnswer: 42"


def test_hold_back_releases_the_chunks_up_to_the_cleared_token() -> None:
    gate = ChunkGate("hold_back")
    assert gate.push("a", 0, fed=1, cleared=0) == []
    assert gate.push("b", 0, fed=2, cleared=0) == []
    assert gate.push("c", 0, fed=3, cleared=0) == []
    # the checkpoint at token 2 passed while token 4 streamed: "c" and "d" stay held
    assert gate.push("d", 1, fed=4, cleared=2) == ["a", "b"]
    assert gate.held == 2
    assert gate.push("", 1, fed=4, cleared=4) == ["c", "d", ""]
    assert gate.shown == 5
    assert gate.discard() == 0


def test_non_blocking_hold_back_never_shows_text_no_score_cleared() -> None:
    policy: dict[str, Any] = scripted_policy(
        {"type": "retry", "temperature": 0.3, "backoff": {"initial_s": 0.0, "max_s": 0.0}}
    )
    policy["checkpoints"]["blocking"] = False
    policy["overload"] = "fail_closed"  # a skipped checkpoint must not let text through here
    guarded = guard(
        FakeStreamingChat(responses=[FIRST, SECOND], token_delay_s=0.01),
        policy,
        ScriptedScorer(lambda q, a: 0.2 if "two" in a else 0.9),
        streaming="hold_back",
        sleep=lambda s: None,
        rng=lambda: 0.0,
    )
    chunks: list[Any] = []
    aborted = False
    try:
        drain(guarded.stream("q"), chunks)
    except GuardAborted:
        aborted = True  # the scorer fell behind the fake model: fail_closed
    shown = "".join(str(chunk.content) for chunk in chunks)
    assert "Step two" not in shown
    assert aborted or shown.endswith(SECOND)
