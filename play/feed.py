"""The live feed of episodes other processes run, when the channel layer cannot
carry their events.

On the embedded default the channel layer is in memory: a step committed by
another process (``manage.py evaluate``, a second server) never reaches this
process's viewers. Their consumers then register here, and one task per event
loop reads the watched episodes' versions and statuses from the database (one
query for all of them, every POLL_INTERVAL_S) and hands any change to the
consumers as the same ``episode.event`` a broadcast would be: the consumer
reads the missed steps by version, so nothing is skipped or sent twice.

Episodes whose events did arrive by push in this process lately (played here)
are left out of the query: their viewers already have every step.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable

from channels.layers import get_channel_layer

from balrogweb.profile import channels_in_process
from games.events import episode_group
from games.executor import run_blocking
from games.models import Episode
from ops.outage import BREAKER

logger = logging.getLogger(__name__)

# Measured (bench/live_feed.py): a step committed elsewhere reaches a viewer
# in about half this on average; one indexed query for all watched episodes.
POLL_INTERVAL_S = 0.25
# An episode whose events came by push this recently is played in this process.
PUSHED_RECENTLY_S = 2.0
FEED_SOURCE = "feed"

PUSH = "push"
POLL = "poll"


def feed_kind() -> str:
    """How this process's viewers learn of steps: ``push`` when the channel
    layer reaches every process (Redis), ``poll`` when it is in memory."""
    return POLL if channels_in_process(get_channel_layer()) else PUSH


class EpisodeFeed:
    """The watched episodes of one event loop and the task that polls them."""

    def __init__(self) -> None:
        self.watchers: dict[int, int] = {}  # episode id -> viewers watching it here
        self.known: dict[int, tuple[int, str]] = {}  # episode id -> (version, status) last handed out
        self.pushed_at: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None

    def watch(self, episode_id: int) -> None:
        self.watchers[episode_id] = self.watchers.get(episode_id, 0) + 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._poll_forever(), name="play-live-feed")

    def unwatch(self, episode_id: int) -> None:
        left = self.watchers.get(episode_id, 0) - 1
        if left > 0:
            self.watchers[episode_id] = left
            return
        self.watchers.pop(episode_id, None)
        self.known.pop(episode_id, None)
        self.pushed_at.pop(episode_id, None)

    def note_pushed(self, episode_id: int) -> None:
        if episode_id in self.watchers:
            self.pushed_at[episode_id] = time.monotonic()

    def polled_ids(self) -> list[int]:
        """Watched episodes neither played here lately nor seen ended."""
        now = time.monotonic()
        return [
            pk
            for pk in self.watchers
            if now - self.pushed_at.get(pk, float("-inf")) >= PUSHED_RECENTLY_S
            and self.known.get(pk, (0, Episode.Status.RUNNING))[1] == Episode.Status.RUNNING
        ]

    async def _poll_forever(self) -> None:
        while self.watchers:
            await asyncio.sleep(POLL_INTERVAL_S)
            try:
                await self.poll_once()
            except Exception as exc:
                if not BREAKER.trip_on(exc):  # an outage is logged once, by the breaker
                    logger.exception("live feed poll failed")

    async def poll_once(self) -> None:
        ids = self.polled_ids()
        if not ids or await BREAKER.refuses_async():
            return
        for episode_id, version, status in await run_blocking(episode_versions, ids):
            if self.known.get(episode_id) == (version, status) or episode_id not in self.watchers:
                continue
            self.known[episode_id] = (version, status)
            await _hand_out(episode_id, version, status)


def episode_versions(ids: Iterable[int]) -> list[tuple[int, int, str]]:
    return list(Episode.objects.filter(pk__in=list(ids)).values_list("pk", "steps", "status"))


async def _hand_out(episode_id: int, version: int, status: str) -> None:
    """The events a broadcast would have carried: the newest step (consumers
    catch up on any they missed; a finishing step carries its end), then
    ``ended`` for an end decided outside a step (abandoned, error)."""
    layer = get_channel_layer()
    assert layer is not None  # the feed runs only on the in-memory layer
    group = episode_group(episode_id)
    event = {"type": "episode.event", "episode": episode_id, "version": version, "source": FEED_SOURCE}
    await layer.group_send(group, {**event, "kind": "step"})
    if status not in (Episode.Status.RUNNING, Episode.Status.FINISHED):
        await layer.group_send(group, {**event, "kind": "ended"})


_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EpisodeFeed] = weakref.WeakKeyDictionary()


def loop_feed() -> EpisodeFeed:
    """The feed of the running event loop (a server process has one)."""
    loop = asyncio.get_running_loop()
    feed = _feeds.get(loop)
    if feed is None:
        feed = _feeds[loop] = EpisodeFeed()
    return feed
