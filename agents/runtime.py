"""The threads of a process that drives model episodes.

An episode's runner thread spends nearly all its time waiting for the model
(seconds per call), so a worker runs one thread per episode in flight
(Celery's ``--pool threads -c N``, or the local runner on the embedded
default). Those threads never touch the database themselves: every database
and env operation goes through ``db_call`` to a small bounded pool
(BALROG_AGENT_DB_THREADS), so a worker with 300 episodes in flight holds a
handful of database connections, not 300, and env steps never compete for
the GIL more than that many at a time.

Also here: the lease keeper (one thread refreshing the heartbeat of every
episode this process plays), the local runner (daemon threads standing in
for Celery workers on the embedded default) and the periodic recovery sweep.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import connections

from balrogweb.runtime import ProcessSingleton
from games.threads import WorkerPool, with_db_hygiene
from ops.outage import retry_on_lost_connection

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_local = threading.local()


# ----- the database/env pool ---------------------------------------------------------
class DbPool:
    def __init__(self, size: int) -> None:
        self.size = size
        self._executor = WorkerPool(size, "agents-db", initializer=_mark_pool_thread)

    def call(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if getattr(_local, "in_pool", False):  # already on a pool thread: a nested call would wait for itself
            return func(*args, **kwargs)
        # A pool thread keeps its connection between calls (hygiene runs every few
        # seconds): one the server dropped fails its next call, which is retried
        # once on a fresh connection instead of crashing the runner (issue 25).
        return self._executor.submit(with_db_hygiene(retry_on_lost_connection(func)), *args, **kwargs).result()

    def shutdown(self) -> None:
        """Close every pool thread's database connection, then stop the threads."""
        self._executor.shutdown(wait=True)


def _mark_pool_thread() -> None:
    _local.in_pool = True


_pool = ProcessSingleton("agents.db_threads", lambda: DbPool(settings.BALROG_AGENT_DB_THREADS))


def db_pool() -> DbPool:
    return _pool.get()


def db_call(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run database/env work on the bounded pool and wait for its result."""
    return db_pool().call(func, *args, **kwargs)


def close_db_pool() -> None:
    pool = _pool.take()
    if pool is not None:
        pool.shutdown()


# ----- graceful stop -------------------------------------------------------------------
_stopping = threading.Event()


def request_stop() -> None:
    """The worker is shutting down: runners hand their episodes back after the current step."""
    _stopping.set()


def stop_requested() -> bool:
    return _stopping.is_set()


# ----- the lease keeper ------------------------------------------------------------------
class LeaseKeeper:
    """Refreshes the heartbeat of every lease this process holds, every
    BALROG_AGENT_HEARTBEAT_SECONDS, independently of how long a model call
    takes. A dead process stops refreshing; the sweep sees the lease go stale."""

    def __init__(self, touch: Callable[[list[str]], int], interval: float) -> None:
        self._touch = touch
        self._interval = interval
        self._tokens: set[str] = set()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, token: str) -> None:
        with self._guard:
            self._tokens.add(token)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="agents-leases", daemon=True)
                self._thread.start()

    def release(self, token: str) -> None:
        with self._guard:
            self._tokens.discard(token)

    def held(self) -> list[str]:
        with self._guard:
            return sorted(self._tokens)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            tokens = self.held()
            if not tokens:
                continue
            try:
                db_call(self._touch, tokens)
            except Exception:
                logger.exception("refreshing %d leases failed", len(tokens))


# ----- the local runner (embedded default) ----------------------------------------------------
class LocalRunner:
    """Daemon threads that run queued jobs, standing in for Celery workers
    when tasks would otherwise run inside the caller (``settings.PROFILE.tasks_in_process``).
    Daemon threads: stopping the process abandons running episodes, which
    the recovery sweep resumes after a restart."""

    def __init__(self, threads: int) -> None:
        self._jobs: queue.Queue[tuple[Callable[[int], object], int]] = queue.Queue()
        self._idle = threading.Condition()
        self._busy = 0
        for number in range(threads):
            threading.Thread(target=self._work, name=f"agents-local-{number}", daemon=True).start()

    def submit(self, func: Callable[[int], object], arg: int) -> None:
        with self._idle:
            self._busy += 1
        self._jobs.put((func, arg))

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout=timeout)

    def _work(self) -> None:
        while True:
            func, arg = self._jobs.get()
            try:
                func(arg)
            except Exception:
                logger.exception("local job %s(%s) failed", getattr(func, "__name__", func), arg)
            finally:
                connections.close_all()
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()


_runner = ProcessSingleton("agents.local_runner", lambda: LocalRunner(settings.BALROG_AGENT_LOCAL_CONCURRENCY))


def local_runner() -> LocalRunner:
    return _runner.get()


def wait_local_jobs(timeout: float | None = None) -> bool:
    """True once this process's local runner, if it has one, has no job queued or running."""
    runner = _runner.peek()
    return runner is None or runner.wait_idle(timeout)


# ----- the periodic sweep ------------------------------------------------------------------
class Sweeper:
    """Runs ``sweep`` (on the db pool) now, then every ``interval`` seconds
    on a daemon thread, until stopped. The interval is fixed at start: a
    settings change later (a test's override ending) never alters it."""

    def __init__(self, sweep: Callable[[], object], interval: float) -> None:
        self._sweep = sweep
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agents-sweep", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopped.is_set()

    def stop(self, timeout: float | None = None) -> bool:
        """No sweep after this one; True once the thread has exited (a sweep in progress ends first)."""
        self._stopped.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                db_call(self._sweep)
            except Exception:
                logger.exception("the model-episode recovery sweep failed")
            self._stopped.wait(self._interval)


_sweeper: Sweeper | None = None
_sweeper_guard = threading.Lock()


def ensure_sweeper(sweep: Callable[[], object]) -> None:
    """Run ``sweep`` now and every BALROG_AGENT_SWEEP_SECONDS in a daemon thread (once per process)."""
    global _sweeper
    with _sweeper_guard:
        if _sweeper is None or not _sweeper.alive():
            _sweeper = Sweeper(sweep, settings.BALROG_AGENT_SWEEP_SECONDS)


def stop_sweeper(timeout: float | None = None) -> bool:
    """Stop this process's periodic sweep, if any; True once none is left running."""
    global _sweeper
    with _sweeper_guard:
        sweeper, _sweeper = _sweeper, None
    return sweeper is None or sweeper.stop(timeout)
