"""The idle sweep, run in the background of each web process.

Started by the first websocket connection of an event loop (a server process
has one loop); every few seconds to a minute it ends human episodes idle past
BALROG_IDLE_TIMEOUT_SECONDS and frees the memory of unused live games.
``manage.py close_idle_episodes`` does the same from cron.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings

from games.executor import run_blocking
from play.services import do_close_idle_episodes

logger = logging.getLogger(__name__)

_tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def sweep_interval() -> float:
    return min(60.0, max(1.0, settings.BALROG_IDLE_TIMEOUT_SECONDS / 4))


def ensure_sweeper() -> None:
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_sweep_forever(), name="play-idle-sweep")


async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(sweep_interval())
        try:
            closed = await run_blocking(do_close_idle_episodes)
        except Exception:
            logger.exception("idle sweep failed")
            continue
        if closed:
            logger.info("closed %d idle episodes: %s", len(closed), closed)
