"""Small pieces shared by the thread pools that run database work.

Two pools use them, both WorkerPools: agents.runtime's bounded database/env
pool (model episodes) and games.executor's step pool (the event loops' blocking work).
Both build their pool lazily once per process, run each call with connection
hygiene, and close every pool thread's connection before stopping (tests
tearing down a database, a clean shutdown).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, ParamSpec, TypeVar

from django.db import Error as DatabaseLayerError
from django.db import close_old_connections, connections

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

# Connection hygiene (drop broken or expired connections) costs a round trip
# with health checks on; once every few seconds per thread is enough.
HYGIENE_INTERVAL_S = 5.0

# Per thread: when its connection was last checked. A thread belongs to one
# pool, so the pools never share an entry.
_local = threading.local()


def with_db_hygiene(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``func`` for a pool thread: close stale connections at most every
    HYGIENE_INTERVAL_S on this thread, and after a failure."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        now = time.monotonic()
        if now - getattr(_local, "checked_at", 0.0) > HYGIENE_INTERVAL_S:
            close_old_connections()
            _local.checked_at = now
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            # A failed query may have left the connection unusable; a refused
            # action (GameError and the like) did not touch it, so keep it.
            if _came_from_database(exc):
                close_old_connections()
                _local.checked_at = time.monotonic()
            raise

    return run


def _came_from_database(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    for _ in range(8):  # chains are short; the bound guards against a cycle
        if cause is None:
            return False
        if isinstance(cause, DatabaseLayerError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class WorkerPool(Executor):
    """A fixed set of threads taking calls from one C-level SimpleQueue.

    Why not ThreadPoolExecutor for websocket steps: per call it builds a
    concurrent Future (a Condition around an RLock) and a work item, puts them
    through a Python-level queue, and run_in_executor chains an asyncio future
    to it; at ~600 steps/s that bookkeeping was several percent of a web
    process's GIL time. Here a call from a loop is one partial on the queue and its
    outcome one call_soon_threadsafe. Every thread starts with the pool (under
    load a ThreadPoolExecutor has started them all anyway).

    ``submit`` keeps the Executor interface for callers that need it (asgiref's
    SyncToAsync, agents.runtime). ``initializer`` runs first on each thread.
    ``shutdown`` has each thread close its own database
    connections before it exits."""

    def __init__(self, size: int, name: str, initializer: Callable[[], None] | None = None) -> None:
        # A job runs a call and delivers its outcome; None stops the thread that takes it.
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._initializer = initializer
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(size)]
        self._closed = False
        for thread in self._threads:
            thread.start()

    def run_soon(self, loop: asyncio.AbstractEventLoop, call: Callable[[], R]) -> asyncio.Future[R]:
        """Run ``call`` on a pool thread; its outcome resolves the returned future on ``loop``."""
        future: asyncio.Future[R] = loop.create_future()
        self._put(functools.partial(_run_for_loop, call, loop, future))
        return future

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[R]:
        future: concurrent.futures.Future[R] = concurrent.futures.Future()
        self._put(functools.partial(_run_concurrent, functools.partial(fn, *args, **kwargs), future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:  # one stop per thread: each takes exactly one
            self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join(timeout=15)

    def _put(self, job: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError("the pool is shut down")
        self._jobs.put(job)

    def _work(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while (job := self._jobs.get()) is not None:
            job()
        connections.close_all()


def _run_concurrent(func: Callable[[], R], future: concurrent.futures.Future[R]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = func()
    except BaseException as exc:  # as ThreadPoolExecutor: the caller gets every failure
        future.set_exception(exc)
    else:
        future.set_result(result)


def _run_for_loop(func: Callable[[], Any], loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
    try:
        outcome: tuple[Any, BaseException | None] = (func(), None)
    except BaseException as exc:
        outcome = (None, exc)
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, future, *outcome)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
