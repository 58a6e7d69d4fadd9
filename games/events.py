"""Episode events for live viewers, sent over the channel layer after commit.

Every event carries the episode's version (steps applied), so a viewer that
sees a gap knows to ask for the missing steps or a snapshot. Broadcasts are
best effort and never slow a step down: they leave through one long-lived
event loop per process (an ordered, bounded queue), never through a thread
spawned per call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db import transaction

from balrogweb.profile import channels_in_process
from balrogweb.runtime import ProcessSingleton

if TYPE_CHECKING:
    from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)


class _FailureReport:
    """Broadcast failures, said once per outage: while Redis is away every
    step's broadcast fails the same way, and viewers catch up by version when
    it returns, so one line at the start and one at the end tell the operator
    all there is. Anything that is not a lost connection keeps its traceback."""

    def __init__(self) -> None:
        self.failing_since: float | None = None
        self.failed = 0
        self._lock = threading.Lock()

    def failed_to(self, group: str, exc: BaseException) -> None:
        if not _is_lost_connection(exc):
            logger.error("broadcast to %s failed", group, exc_info=exc)
            return
        with self._lock:
            self.failed += 1
            first = self.failing_since is None
            if first:
                self.failing_since = time.monotonic()
        if first:
            logger.warning(
                "broadcasts failing (%s: %s); viewers catch up by version once they resume", type(exc).__name__, exc
            )

    def sent(self) -> None:
        if self.failing_since is None:  # the common case: no lock, nothing to say
            return
        with self._lock:
            since, failed = self.failing_since, self.failed
            self.failing_since, self.failed = None, 0
        if since is not None:
            logger.warning("broadcasts resumed after %.1f s; %d failed meanwhile", time.monotonic() - since, failed)


def _is_lost_connection(exc: BaseException) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, OSError | TimeoutError | RedisConnectionError | RedisTimeoutError)


FAILURES = _FailureReport()

# Events waiting to be sent; past this a viewer misses events and resyncs by version.
MAX_PENDING_EVENTS = 10_000
# How long a group's "has members" answer is trusted, and how often skipped events are rechecked.
WATCH_TTL_S = 1.0
RECHECK_INTERVAL_S = 0.1
MAX_PRESENCE_ENTRIES = 50_000


class EventPayload(TypedDict, total=False):
    """What an event adds to its kind: started (env, task), step (index), ended (end_reason)."""

    env: str
    task: str
    index: int
    end_reason: str


class EpisodeEvent(EventPayload):
    type: str  # "episode.event": the consumers' handler
    kind: str
    episode: int
    version: int  # steps applied


# An event on its way out: the layer it leaves through, its group, the event.
Outgoing = tuple[BaseChannelLayer, str, EpisodeEvent]


def episode_group(episode_id: int) -> str:
    return f"episode-{episode_id}"


def emit_after_commit(episode_id: int, kind: str, version: int, payload: EventPayload) -> None:
    """Queue an event for the episode's viewers once the current transaction commits."""
    event: EpisodeEvent = {"type": "episode.event", "kind": kind, "episode": episode_id, "version": version, **payload}
    transaction.on_commit(lambda: send_event(episode_group(episode_id), event))


def send_event(group: str, event: EpisodeEvent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if channels_in_process(layer):
        # The in-memory layer only reaches consumers of this process: with no
        # member in the group there is nobody to tell.
        if layer.groups.get(group):
            _send_in_memory(layer, group, event)
        return
    _broadcaster().submit(layer, group, event)


def _send_in_memory(layer: InMemoryChannelLayer, group: str, event: EpisodeEvent) -> None:
    """Hand the send to the consumers' loop and go on: a step's thread does
    not wait for the viewers' queues (async_to_sync would block it on that
    loop, ~0.3 ms of the step's CPU and a GIL round trip). Without a known
    loop (no websocket has used this process's step pool yet), as before."""
    loop = _consumer_loop
    try:
        if loop is not None and loop.is_running() and not _on_loop(loop):
            loop.call_soon_threadsafe(_spawn_group_send, layer, group, event)
        else:
            async_to_sync(layer.group_send)(group, event)
    except Exception as exc:
        FAILURES.failed_to(group, exc)


# The event loop that serves this process's websockets: the in-memory layer's
# queues belong to it. Set by games.executor as it hands work to the step pool.
_consumer_loop: asyncio.AbstractEventLoop | None = None


def note_consumer_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _consumer_loop
    _consumer_loop = loop


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _spawn_group_send(layer: InMemoryChannelLayer, group: str, event: EpisodeEvent) -> None:
    # Tasks start in the order they were made, so one episode's events keep their order.
    task = asyncio.get_running_loop().create_task(layer.group_send(group, event))
    task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("in-memory broadcast failed", exc_info=task.exception())


class _Broadcaster:
    """One daemon thread running an event loop that sends events in order.

    Most episodes have nobody watching (a player's own connection leaves the
    group), and a group_send to an empty group still costs two Redis commands
    and ~0.3 ms of this process's CPU per step. So the broadcaster asks Redis
    whether a group has members at most once per WATCH_TTL_S and skips sends
    to empty groups, keeping the latest skipped event of each group for a
    while: a viewer who joined just after the last check gets it on the next
    recheck (and resyncs by version if it missed more). Viewers joining in
    this process mark their group watched at once (``note_watched``)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self.dropped = 0
        # group -> (has members, valid until); written from other threads too (single dict stores).
        self.presence: dict[str, tuple[bool, float]] = {}
        self.skipped: dict[str, tuple[BaseChannelLayer, EpisodeEvent, float]] = {}  # group -> latest unsent event
        threading.Thread(target=self._run, name="balrog-broadcaster", daemon=True).start()

    def submit(self, layer: BaseChannelLayer, group: str, event: EpisodeEvent) -> None:
        known = self.presence.get(group)
        if known is not None and not known[0] and known[1] > time.monotonic():
            # Nobody watched at the last check: keep it for the recheck without
            # waking this loop (a thread hop and a task per step of every game).
            self._keep_skipped(layer, group, event)
            return
        self.loop.call_soon_threadsafe(self._enqueue, (layer, group, event))

    def _keep_skipped(self, layer: BaseChannelLayer, group: str, event: EpisodeEvent) -> None:
        """Keep the newest unsent event of the group (stores come from several threads)."""
        kept = self.skipped.get(group)
        if kept is None or kept[1].get("version", 0) <= event.get("version", 0):
            self.skipped[group] = (layer, event, time.monotonic())

    def note_watched(self, group: str) -> None:
        self.presence[group] = (True, time.monotonic() + WATCH_TTL_S)

    def _enqueue(self, item: Outgoing) -> None:
        if self.queue.qsize() >= MAX_PENDING_EVENTS:
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.create_task(self._recheck_skipped())
        self.loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        while True:
            layer, group, event = await self.queue.get()
            try:
                if not await self._send_if_watched(layer, group, event):
                    self._keep_skipped(layer, group, event)
                FAILURES.sent()
            except Exception as exc:
                FAILURES.failed_to(group, exc)

    async def _recheck_skipped(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_INTERVAL_S)
            try:
                await self._recheck_once()
            except Exception as exc:
                FAILURES.failed_to("the skipped events' groups", exc)

    async def _recheck_once(self) -> None:
        now = time.monotonic()
        due: list[Outgoing] = []
        for group, (layer, event, skipped_at) in list(self.skipped.items()):
            if now - skipped_at > 2 * WATCH_TTL_S:
                # Anyone who joined since got a state at least this new in their hello.
                self.skipped.pop(group, None)
            else:
                due.append((layer, group, event))
        # One Redis round trip for every group whose answer expired, instead of
        # one each: with 50 unwatched episodes a process asked ~50 times a second.
        await self._refresh_presence([(layer, group) for layer, group, _ in due], now)
        for layer, group, event in due:
            try:
                await self._send_if_watched(layer, group, event)
            except Exception as exc:
                FAILURES.failed_to(group, exc)

    async def _refresh_presence(self, groups: list[tuple[BaseChannelLayer, str]], now: float) -> None:
        """Ask Redis about each group whose answer expired (all at once), and
        keep the answers for WATCH_TTL_S."""
        stale: dict[int, tuple[BaseChannelLayer, list[str]]] = {}
        for layer, group in groups:
            known = self.presence.get(group)
            if known is None or known[1] <= now:
                stale.setdefault(id(layer), (layer, []))[1].append(group)
        for layer, names in stale.values():
            for group, watched in (await _groups_with_members(layer, names)).items():
                self.presence[group] = (watched, now + WATCH_TTL_S)
        if stale and len(self.presence) > MAX_PRESENCE_ENTRIES:
            self.presence = {key: value for key, value in self.presence.items() if value[1] > now}

    async def _send_if_watched(self, layer: BaseChannelLayer, group: str, event: EpisodeEvent) -> bool:
        """Send ``event`` if the group has members, forgetting any skipped one
        (this is as new or newer; if the recheck sends an older one after the
        drain sent a newer one, viewers ignore versions they already have)."""
        if not await self._watched(layer, group):
            return False
        self.skipped.pop(group, None)
        await layer.group_send(group, event)
        return True

    async def _watched(self, layer: BaseChannelLayer, group: str) -> bool:
        await self._refresh_presence([(layer, group)], time.monotonic())
        return self.presence[group][0]


async def _groups_with_members(layer: BaseChannelLayer, groups: list[str]) -> dict[str, bool]:
    """Whether channels-redis holds any member for each group: one pipeline of
    ZCARDs per Redis shard. For a layer of another kind, assume yes and let
    group_send decide."""
    group_key = getattr(layer, "_group_key", None)
    if group_key is None or not hasattr(layer, "consistent_hash"):
        return dict.fromkeys(groups, True)
    by_shard: dict[int, list[str]] = {}
    for group in groups:
        by_shard.setdefault(layer.consistent_hash(group), []).append(group)
    answers: dict[str, bool] = {}
    for shard, names in by_shard.items():
        pipeline = layer.connection(shard).pipeline(transaction=False)
        for group in names:
            pipeline.zcard(group_key(group))
        counts = await pipeline.execute()
        answers.update((group, bool(count)) for group, count in zip(names, counts, strict=True))
    return answers


def note_watched(group: str) -> None:
    """A viewer joined ``group`` in this process: send it events from now on
    without waiting for the next membership check."""
    layer = get_channel_layer()
    if layer is not None and not channels_in_process(layer):
        _broadcaster().note_watched(group)


_instance = ProcessSingleton("games.broadcaster", lambda: _Broadcaster())


def _broadcaster() -> _Broadcaster:
    return _instance.get()
