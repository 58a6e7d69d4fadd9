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
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# Events waiting to be sent; past this a viewer misses events and resyncs by version.
MAX_PENDING_EVENTS = 10_000


def episode_group(episode_id: int) -> str:
    return f"episode-{episode_id}"


def emit_after_commit(episode_id: int, kind: str, version: int, payload: dict[str, Any]) -> None:
    """Queue an event for the episode's viewers once the current transaction commits."""
    event = {"type": "episode.event", "kind": kind, "episode": episode_id, "version": version, **payload}
    transaction.on_commit(lambda: send_event(episode_group(episode_id), event))


def send_event(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # The in-memory layer only reaches consumers of this process: with no
        # member in the group there is nobody to tell.
        if layer.groups.get(group):
            _send_in_memory(layer, group, event)
        return
    _broadcaster().submit(layer, group, event)


def _send_in_memory(layer: InMemoryChannelLayer, group: str, event: dict[str, Any]) -> None:
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        logger.exception("broadcast to %s failed", group)


class _Broadcaster:
    """One daemon thread running an event loop that sends events in order."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[tuple[Any, str, dict[str, Any]]] = asyncio.Queue()
        self.dropped = 0
        threading.Thread(target=self._run, name="balrog-broadcaster", daemon=True).start()

    def submit(self, layer: Any, group: str, event: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self._enqueue, (layer, group, event))

    def _enqueue(self, item: tuple[Any, str, dict[str, Any]]) -> None:
        if self.queue.qsize() >= MAX_PENDING_EVENTS:
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        while True:
            layer, group, event = await self.queue.get()
            try:
                await layer.group_send(group, event)
            except Exception:
                logger.exception("broadcast to %s failed", group)


_instance: _Broadcaster | None = None
_instance_guard = threading.Lock()


def _broadcaster() -> _Broadcaster:
    global _instance
    with _instance_guard:
        if _instance is None:
            _instance = _Broadcaster()
        return _instance
