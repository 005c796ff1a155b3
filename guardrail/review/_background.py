"""A bounded queue of jobs and one worker thread that runs them in order, never blocking callers.

What the webhook sink delivers in the background with: :meth:`BackgroundWorker.submit` returns
at once (a full queue hands the job to ``give_up`` instead of waiting); the thread starts on
the first job and ends after ``idle_s`` with nothing to do (the next job starts another);
:meth:`BackgroundWorker.close` waits for what is pending up to a timeout, hands the rest to
``give_up`` and stops the thread. Workers still open when the interpreter exits are closed
then, each waiting at most :data:`EXIT_FLUSH_S`.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["EXIT_FLUSH_S", "BackgroundWorker"]

Job = TypeVar("Job")

EXIT_FLUSH_S = 10.0
"""How long the interpreter's exit waits for each open worker's pending jobs."""

_OPEN: weakref.WeakSet[BackgroundWorker[object]] = weakref.WeakSet()


@atexit.register
def _close_open_workers() -> None:
    for worker in list(_OPEN):
        worker.close(timeout_s=EXIT_FLUSH_S)


class _Stop:
    """Tells one thread (the one it names) to end; others skip it."""

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread


class BackgroundWorker(Generic[Job]):
    """Run ``run(job)`` for each submitted job, in order, on one thread of its own.

    At most ``max_pending`` jobs wait; ``give_up(job, error)`` is told about a job that will
    not run (the queue was full, or the worker closed before its turn) and about nothing else:
    ``run`` reports its own failures. Neither may raise.
    """

    def __init__(
        self,
        run: Callable[[Job], None],
        give_up: Callable[[Job, Exception], None],
        *,
        max_pending: int,
        name: str,
        idle_s: float = 30.0,
    ) -> None:
        self._run = run
        self._give_up = give_up
        self._name = name
        self._idle_s = idle_s
        self._pending: queue.Queue[Job | _Stop] = queue.Queue(maxsize=max_pending)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def max_pending(self) -> int:
        """How many jobs may wait."""
        return self._pending.maxsize

    def submit(self, job: Job) -> None:
        """Queue ``job`` and return at once; a full queue hands it to ``give_up`` instead."""
        try:
            self._pending.put_nowait(job)
        except queue.Full:
            self._give_up(
                job,
                OverflowError(
                    f"not sent: the background queue is full ({self.max_pending:,} waiting)"
                ),
            )
        self._start()  # after the put: a thread that just went idle has seen the queue empty

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every submitted job ran; ``False`` if ``timeout_s`` ran out first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._pending.all_tasks_done:
            while self._pending.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._pending.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout_s: float | None = 30.0) -> None:
        """Run what is pending (up to ``timeout_s``), give up the rest, stop the thread.

        Idempotent; a later :meth:`submit` starts a new thread.
        """
        with self._lock:
            thread, self._thread = self._thread, None
        _OPEN.discard(self)  # type: ignore[arg-type]
        if thread is None:
            return
        if not self.flush(timeout_s):
            self._drain("not sent: the sink closed before its turn")
        if thread.is_alive():
            self._pending.put(_Stop(thread))
            thread.join(timeout_s)

    def _drain(self, reason: str) -> None:
        while True:
            try:
                job = self._pending.get_nowait()
            except queue.Empty:
                return
            try:
                if not isinstance(job, _Stop):
                    self._give_up(job, RuntimeError(reason))
            finally:
                self._pending.task_done()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
                _OPEN.add(self)  # type: ignore[arg-type]

    def _loop(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                job = self._pending.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:  # submit() starts a new thread after its put
                    if self._pending.empty():
                        if self._thread is me:
                            self._thread = None
                        return
                continue
            try:
                if isinstance(job, _Stop):
                    if job.thread is me:
                        return
                    continue  # meant for a thread that went idle before it arrived
                self._run(job)
            finally:
                self._pending.task_done()
