"""The session pool and the scoring worker on a tiny random Llama: batched equals one by one."""

from __future__ import annotations

from typing import Any

import pytest

from guardrail.scorers.pool import PoolingScorer, StreamPool
from guardrail.scoring_worker import ScoringWorker

QUESTIONS = [
    "Tom has 3 apples and buys 5 more. How many apples?",
    "What is 2 + 2?",
    "A train leaves at 9 and travels for three hours at 60 km/h; how far does it go?" * 2,
]
ANSWERS = [
    "Tom starts with 3.\nHe buys 5 more, so 3 + 5 = 8.\n\nThe answer is 8.",
    "2 + 2 = 4.\nSo 4.",
    "Three hours at 60 km/h.\nThat is 180 km.\n",
]


def test_streams_join_and_leave_mid_answer_and_score_like_recomputation(tiny_scorer: Any) -> None:
    assert isinstance(tiny_scorer, PoolingScorer)
    pool = tiny_scorer.open_pool()
    assert isinstance(pool, StreamPool)
    first = pool.add(QUESTIONS[0])
    pool.append(first, ANSWERS[0][:20])
    assert pool.score([first]) == pytest.approx([tiny_scorer.score(QUESTIONS[0], ANSWERS[0][:20])])
    second = pool.add(QUESTIONS[2])  # longer than the batch so far: every row is padded
    third = pool.add(QUESTIONS[1])
    pool.append(first, ANSWERS[0][20:45])
    pool.append(second, ANSWERS[2][:25])
    pool.append(third, ANSWERS[1])
    expected = [
        tiny_scorer.score(QUESTIONS[0], ANSWERS[0][:45]),
        tiny_scorer.score(QUESTIONS[2], ANSWERS[2][:25]),
        tiny_scorer.score(QUESTIONS[1], ANSWERS[1]),
    ]
    assert pool.score([first, second, third]) == pytest.approx(expected, abs=1e-4)
    pool.remove(first)
    pool.append(second, ANSWERS[2][25:])
    assert pool.score([second]) == pytest.approx(
        [tiny_scorer.score(QUESTIONS[2], ANSWERS[2])], abs=1e-4
    )
    fourth = pool.add(QUESTIONS[0])  # a new stream after another left
    pool.append(fourth, ANSWERS[0])
    assert pool.score([fourth, third]) == pytest.approx(
        [tiny_scorer.score(QUESTIONS[0], ANSWERS[0]), expected[2]], abs=1e-4
    )
    for key in (second, third, fourth):
        pool.remove(key)
    assert pool.size == 0
    again = pool.add(QUESTIONS[1])  # the emptied pool starts a fresh batch
    assert pool.score([again]) == pytest.approx([tiny_scorer.score(QUESTIONS[1], "")], abs=1e-4)


def test_concurrent_checkpoints_are_scored_in_one_batched_step(tiny_scorer: Any) -> None:
    worker = ScoringWorker(tiny_scorer, window_s=30.0)  # waits for every open stream's request
    streams = [worker.open(question) for question in QUESTIONS]
    for stream, answer in zip(streams, ANSWERS, strict=True):
        stream.append(answer)
    assert worker.wait_idle(120)  # every stream is open on the worker before the requests
    tickets = [stream.request() for stream in streams]
    assert all(ticket.wait(120) for ticket in tickets)
    expected = [tiny_scorer.score(q, a) for q, a in zip(QUESTIONS, ANSWERS, strict=True)]
    assert [ticket.result() for ticket in tickets] == pytest.approx(expected, abs=1e-4)
    assert worker.stats.largest_batch == 3
    assert worker.stats.steps == 1
    for stream in streams:
        stream.close()
    assert worker.wait_idle(60)
    assert worker.open_streams == 0


def test_a_single_stream_does_not_wait_for_the_window(tiny_scorer: Any) -> None:
    worker = ScoringWorker(tiny_scorer, window_s=600.0)
    stream = worker.open(QUESTIONS[1])
    stream.append(ANSWERS[1])
    ticket = stream.request()
    assert ticket.wait(300)  # a window applied to a lone stream would take 600 s
    assert ticket.result() == pytest.approx(tiny_scorer.score(QUESTIONS[1], ANSWERS[1]), abs=1e-4)
    stream.close()


def test_without_micro_batching_each_stream_is_scored_alone(tiny_scorer: Any) -> None:
    worker = ScoringWorker(tiny_scorer, max_batch=1)
    streams = [worker.open(question) for question in QUESTIONS]
    tickets = [stream.request() for stream in streams]
    assert all(ticket.wait(120) for ticket in tickets)
    assert worker.stats.largest_batch == 1
    assert worker.stats.checkpoints == 3
    for stream in streams:
        stream.close()


def test_entropy_goes_through_the_worker(tiny_scorer: Any) -> None:
    worker = ScoringWorker(tiny_scorer)
    stream = worker.open(QUESTIONS[0])
    stream.append(ANSWERS[0][:20])
    direct = tiny_scorer.open_session(QUESTIONS[0])
    direct.append(ANSWERS[0][:20])
    assert stream.entropy() == pytest.approx(direct.entropy(), abs=1e-4)
    stream.close()
    direct.close()


def test_a_scorer_error_reaches_the_ticket_and_the_worker_survives(tiny_scorer: Any) -> None:
    class Broken:
        name = "broken"

        def score(self, question: str, answer: str = "") -> float:
            raise RuntimeError("boom")

        def score_batch(self, pairs: Any) -> list[float]:
            raise RuntimeError("boom")

        def open_session(self, question: str) -> Any:
            raise RuntimeError("no session for you")

    worker = ScoringWorker(Broken())  # type: ignore[arg-type]
    stream = worker.open("q")
    ticket = stream.request()
    assert ticket.wait(60)
    with pytest.raises(Exception, match="no session for you"):
        ticket.result()
    stream.close()
    assert worker.wait_idle(60)


def test_bad_worker_settings_are_errors(tiny_scorer: Any) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        ScoringWorker(tiny_scorer, max_batch=0)
    assert ScoringWorker.for_scorer(tiny_scorer) is ScoringWorker.for_scorer(tiny_scorer)
