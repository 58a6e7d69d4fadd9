"""Episode events for live viewers, sent over the channel layer after commit.

Every event carries the episode's version (steps applied), so a viewer that
sees a gap knows to ask for the missing steps or a snapshot.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def episode_group(episode_id: int) -> str:
    return f"episode-{episode_id}"


def emit_after_commit(episode_id: int, kind: str, version: int, payload: dict[str, Any]) -> None:
    """Queue an event for the episode's viewers once the current transaction commits."""
    event = {"type": "episode.event", "kind": kind, "episode": episode_id, "version": version, **payload}
    transaction.on_commit(lambda: _send(episode_id, event))


def _send(episode_id: int, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(episode_group(episode_id), event)
    except Exception:
        # A broadcast is best effort: the step is committed and viewers that
        # miss it resync from the database by version.
        logger.exception("broadcast failed for episode %s", episode_id)
