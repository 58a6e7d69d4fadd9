"""Where blocking work of the event loops runs: a bounded thread pool.

Websocket players' steps, viewers' replays, the annotation console's step
windows and the live feed's polls all hop here from an event loop.

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
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings

from balrogweb.runtime import ProcessSingleton
from games.events import note_consumer_loop
from games.threads import WorkerPool, with_db_hygiene

P = ParamSpec("P")
R = TypeVar("R")

_pool = ProcessSingleton("games.step_threads", lambda: WorkerPool(settings.BALROG_PLAY_STEP_THREADS, "play-step"))


def step_pool() -> WorkerPool:
    return _pool.get()


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

    A plain hop with this task's context (not asgiref's SyncToAsync, whose
    bookkeeping cost more per message than the hop itself): broadcasts made
    inside ``func`` reach the in-memory layer through the loop noted here
    (games.events), any other layer through the broadcaster's own loop."""
    loop = asyncio.get_running_loop()
    note_consumer_loop(loop)
    context = contextvars.copy_context()
    bound = functools.partial(context.run, with_db_hygiene(func), *args, **kwargs)
    return step_pool().run_soon(loop, bound)
