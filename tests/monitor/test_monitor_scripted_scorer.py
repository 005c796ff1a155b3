"""The ScriptedScorer test double."""

from __future__ import annotations

import pytest

from guardrail.scorers.base import Scorer, ScoringSession
from guardrail.testing.scorers import ScoreCall, ScriptedScorer


def test_implements_the_protocols() -> None:
    scorer = ScriptedScorer([0.5])
    assert isinstance(scorer, Scorer)
    assert isinstance(scorer.open_session("q"), ScoringSession)
    assert scorer.name == "scripted"
    assert ScriptedScorer([], name="other").name == "other"


def test_script_is_handed_out_in_order_across_methods() -> None:
    scorer = ScriptedScorer([0.1, 0.2, 0.3, 0.4])
    session = scorer.open_session("q")
    session.append("ab")
    assert session.score() == 0.1
    assert scorer.score("q2", "x") == 0.2
    assert scorer.score_batch([("q3", "y"), ("q4", "z")]) == [0.3, 0.4]
    assert scorer.calls == [
        ScoreCall("session.score", "q", "ab"),
        ScoreCall("score", "q2", "x"),
        ScoreCall("score_batch", "q3", "y"),
        ScoreCall("score_batch", "q4", "z"),
    ]
    with pytest.raises(LookupError, match="ran out of its 4"):
        scorer.score("q")


def test_callable_script() -> None:
    scorer = ScriptedScorer(lambda q, a: len(q + a) / 10)
    assert scorer.score("abc", "de") == 0.5
    session = scorer.open_session("a")
    session.append("b")
    assert session.score() == 0.2


def test_fail_on_nth_request_without_consuming_the_script() -> None:
    scorer = ScriptedScorer([0.1, 0.2], fail_on=2)
    assert scorer.score("q") == 0.1
    with pytest.raises(RuntimeError, match="request 2"):
        scorer.score("q")
    assert scorer.score("q") == 0.2
    assert len(scorer.calls) == 3


def test_fail_on_with_a_chosen_error() -> None:
    error = ConnectionError("down")
    scorer = ScriptedScorer([0.1], fail_on=1, error=error)
    with pytest.raises(ConnectionError) as info:
        scorer.score_batch([("q", "a")])
    assert info.value is error


def test_fail_on_counts_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        ScriptedScorer([], fail_on=0)


def test_session_entropy() -> None:
    scorer = ScriptedScorer([], entropy=lambda q, a: float(len(a)))
    session = scorer.open_session("q")
    assert session.entropy() == 0.0
    session.append("abc")
    assert session.entropy() == 3.0
    assert ScriptedScorer([]).open_session("q").entropy() is None
    assert scorer.calls[-1] == ScoreCall("session.entropy", "q", "abc")


def test_closed_session_refuses_use() -> None:
    scorer = ScriptedScorer([0.5])
    session = scorer.open_session("q")
    session.close()
    assert scorer.sessions == [session]
    assert session.closed
    with pytest.raises(RuntimeError, match="after close"):
        session.append("x")
    with pytest.raises(RuntimeError, match="after close"):
        session.score()
