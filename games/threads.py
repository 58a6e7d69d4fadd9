"""Small pieces shared by the thread pools that run database work.

Two pools use them: agents.runtime's bounded database/env pool (model
episodes) and play.executor's step pool (websocket players). Both build
their pool lazily once per process, run each call with connection hygiene,
and close every pool thread's connection before stopping (tests tearing
down a database, a clean shutdown).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Generic, ParamSpec, TypeVar

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


class ProcessSingleton(Generic[T]):
    """One object per process, built on first use.

    Double-checked: the common path (already built) takes no lock; the lock
    only keeps two first callers from building two objects."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._guard = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._guard:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    def take(self) -> T | None:
        """Forget the object and return it (None if never built); the next
        ``get`` builds a new one."""
        with self._guard:
            value, self._value = self._value, None
        return value


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
        except Exception:
            close_old_connections()  # a failed query may have left the connection unusable
            _local.checked_at = time.monotonic()
            raise

    return run


def close_pool_connections(executor: ThreadPoolExecutor) -> None:
    """Close the database connection of every thread of ``executor``, then stop it."""
    alive = len(executor._threads)
    if alive:
        # Each thread waits at the barrier after closing, so every thread takes exactly one close.
        barrier = threading.Barrier(alive)

        def close_connections() -> None:
            connections.close_all()
            barrier.wait(timeout=10)

        wait([executor.submit(close_connections) for _ in range(alive)], timeout=15)
    executor.shutdown(wait=True)
