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
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import connection

from balrogweb.runtime import ProcessSingleton
from games.threads import WorkerPool, with_db_hygiene

P = ParamSpec("P")
R = TypeVar("R")

# SQLite has one writer at a time, and a writer that finds the database locked
# sleeps in SQLite's busy handler (1, 2, 5, 10... ms). Writers of this process
# queue on a lock instead and go the moment it is free.
_sqlite_writer = threading.Lock()

_pool = ProcessSingleton("play.step_threads", lambda: WorkerPool(settings.BALROG_PLAY_STEP_THREADS, "play-step"))


def step_pool() -> WorkerPool:
    return _pool.get()


def database_write_slot() -> AbstractContextManager[object]:
    """Around a call that writes (a step): serialized on SQLite, free on PostgreSQL."""
    return _sqlite_writer if connection.vendor == "sqlite" else nullcontext()


def close_step_pool() -> None:
    """Close the database connections of every pool thread and stop the pool
    (tests tearing down a database, a clean shutdown); the next call makes a new one."""
    pool = _pool.take()
    if pool is not None:
        pool.shutdown(wait=True)  # each thread closes its connections as it stops


async def run_blocking(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``func`` in the step pool with this task's context (the logging ids)."""
    return await submit_blocking(func, *args, **kwargs)


def submit_blocking(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[R]:
    """Start ``func`` in the step pool and return the future of its result
    (for a caller that awaits something else first, such as an early frame).

    On the in-memory channel layer (the embedded default) through asgiref's
    SyncToAsync, so an ``async_to_sync`` broadcast made inside ``func`` reaches
    the consumers' own event loop, the only one that layer can wake. Any other
    layer is called from the broadcaster's loop (games.events), and a plain
    executor hop costs a fraction of SyncToAsync's bookkeeping per message."""
    if _in_memory_layer():
        # SyncToAsync only hands the executor to run_in_executor: any Executor does.
        pool: Any = step_pool()
        call: SyncToAsync[P, R] = SyncToAsync(with_db_hygiene(func), thread_sensitive=False, executor=pool)
        return asyncio.ensure_future(call(*args, **kwargs))
    context = contextvars.copy_context()
    bound = functools.partial(context.run, with_db_hygiene(func), *args, **kwargs)
    return step_pool().run_soon(asyncio.get_running_loop(), bound)


def _in_memory_layer() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)
