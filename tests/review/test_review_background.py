"""The background worker behind webhook delivery: order, idle threads, close."""

from __future__ import annotations

import threading
import time

from guardrail.review._background import BackgroundWorker


def test_jobs_run_in_order_and_an_idle_thread_ends_and_restarts() -> None:
    ran: list[int] = []
    given_up: list[tuple[int, str]] = []
    worker: BackgroundWorker[int] = BackgroundWorker(
        ran.append, lambda job, exc: given_up.append((job, str(exc))), max_pending=8, name="t"
    )
    worker._idle_s = 0.05
    for job in range(3):
        worker.submit(job)
    assert worker.flush(timeout_s=30)
    deadline = time.monotonic() + 30
    while worker._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # the thread ends once idle
    assert worker._thread is None
    worker.submit(3)  # starts a new one
    assert worker.flush(timeout_s=30)
    worker.close(timeout_s=30)
    worker.close(timeout_s=30)  # idempotent
    assert (ran, given_up) == ([0, 1, 2, 3], [])


def test_close_gives_up_what_waits_and_submit_never_blocks() -> None:
    release = threading.Event()
    started = threading.Event()
    ran: list[int] = []
    given_up: list[tuple[int, str]] = []

    def slow(job: int) -> None:
        started.set()
        release.wait(30)
        ran.append(job)

    worker: BackgroundWorker[int] = BackgroundWorker(
        slow, lambda job, exc: given_up.append((job, str(exc))), max_pending=2, name="t"
    )
    worker.submit(0)
    assert started.wait(30)
    for job in (1, 2, 3):  # two wait, the third finds the queue full
        worker.submit(job)
    assert given_up == [(3, "not sent: the background queue is full (2 waiting)")]
    try:
        worker.close(timeout_s=0.1)
    finally:
        release.set()
    assert worker.flush(timeout_s=30)
    assert ran == [0]
    assert [job for job, _ in given_up] == [3, 1, 2]
    assert all("closed before its turn" in reason for _, reason in given_up[1:])
