"""Where blocking work of websocket players runs: a bounded thread pool.

Env steps and database writes must never run on the event loop, and must not
queue behind one shared thread (Django's default for sync code under ASGI),
or one slow game would stall every socket. The pool is bounded so a burst of
players cannot spawn unbounded threads; one episode's steps are serialized by
its lock in games.live, so the pool only runs different episodes side by side.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from typing import ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connection, connections

P = ParamSpec("P")
R = TypeVar("R")

# Connection hygiene (drop broken or expired connections) costs a round trip
# with health checks on; once every few seconds per thread is enough.
_HYGIENE_INTERVAL_S = 5.0

# SQLite has one writer at a time, and a writer that finds the database locked
# sleeps in SQLite's busy handler (1, 2, 5, 10... ms). Writers of this process
# queue on a lock instead and go the moment it is free.
_sqlite_writer = threading.Lock()

_pool: ThreadPoolExecutor | None = None
_pool_guard = threading.Lock()
_local = threading.local()


def step_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_guard:
            if _pool is None:
                _pool = ThreadPoolExecutor(settings.BALROG_PLAY_STEP_THREADS, thread_name_prefix="play-step")
    return _pool


def database_write_slot() -> AbstractContextManager[object]:
    """Around a call that writes (a step): serialized on SQLite, free on PostgreSQL."""
    return _sqlite_writer if connection.vendor == "sqlite" else nullcontext()


def close_step_pool() -> None:
    """Close the database connections of every pool thread and stop the pool
    (tests tearing down a database, a clean shutdown); the next call makes a new one."""
    global _pool
    with _pool_guard:
        pool, _pool = _pool, None
    if pool is None:
        return
    alive = len(pool._threads)
    if alive:
        # Each thread waits at the barrier after closing, so every thread takes exactly one task.
        barrier = threading.Barrier(alive)

        def close_connections() -> None:
            connections.close_all()
            barrier.wait(timeout=10)

        wait([pool.submit(close_connections) for _ in range(alive)], timeout=15)
    pool.shutdown(wait=True)


def _with_db_hygiene(func: Callable[P, R]) -> Callable[P, R]:
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        now = time.monotonic()
        if now - getattr(_local, "checked_at", 0.0) > _HYGIENE_INTERVAL_S:
            close_old_connections()
            _local.checked_at = now
        try:
            return func(*args, **kwargs)
        except Exception:
            close_old_connections()  # a failed query may have left the connection unusable
            _local.checked_at = time.monotonic()
            raise

    return run


async def run_blocking(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``func`` in the step pool with this task's context (the logging ids).

    On the in-memory channel layer (the embedded default) through asgiref's
    SyncToAsync, so an ``async_to_sync`` broadcast made inside ``func`` reaches
    the consumers' own event loop, the only one that layer can wake. Any other
    layer is called from the broadcaster's loop (games.events), and a plain
    executor hop costs a fraction of SyncToAsync's bookkeeping per message."""
    if _in_memory_layer():
        call: SyncToAsync[P, R] = SyncToAsync(_with_db_hygiene(func), thread_sensitive=False, executor=step_pool())
        return await call(*args, **kwargs)
    context = contextvars.copy_context()
    bound = functools.partial(context.run, _with_db_hygiene(func), *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(step_pool(), bound)


def _in_memory_layer() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)
