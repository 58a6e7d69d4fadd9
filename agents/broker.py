"""What the Celery broker (Redis) still holds of the model episodes dispatched.

A Redis restart without persistence loses every message queued in it, and the
messages workers had taken but not yet acknowledged (tasks are acked late).
Their slots look like a long queue to the database: dispatched, never started.
``held_slots`` reads the broker itself, so the sweep can tell the two apart
(agents.leases.stale_slots): a slot dispatched over BALROG_AGENT_PICKUP_SECONDS
ago whose message the broker no longer has was lost and is dispatched again.

Kombu's Redis layout: a queue is a list per priority step (``queue``,
``queue\\x06\\x163``...), and a delivered, unacknowledged message sits in the
``unacked`` hash as ``[message, exchange, routing_key]``; a message's body is
base64 JSON ``[args, kwargs, embed]``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

TASK_NAME = "agents.run_model_episode"
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)  # kombu's defaults
UNACKED_KEY = "unacked"
READ_CHUNK = 1000
SOCKET_TIMEOUT_S = 5.0


def held_slots(queues: Iterable[str]) -> set[int] | None:
    """Slot ids of model-episode messages waiting in ``queues`` or delivered
    and not acknowledged; None when that cannot be known (no Redis broker, or
    it does not answer): then nothing counts as lost."""
    url = str(getattr(settings, "CELERY_BROKER_URL", ""))
    if settings.PROFILE.tasks_in_process or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)
        try:
            return set(_slot_ids(_messages(client, list(queues))))
        finally:
            client.close()
    except redis.RedisError as exc:
        logger.warning("could not read the broker's queues: %s", exc)
        return None


def _messages(client: Any, queues: list[str]) -> Iterator[object]:  # client: a redis.Redis
    for queue in queues:
        for step in PRIORITY_STEPS:
            key = f"{queue}{PRIORITY_SEPARATOR}{step}" if step else queue
            start = 0
            while chunk := client.lrange(key, start, start + READ_CHUNK - 1):
                yield from (_loads(raw) for raw in chunk)
                start += READ_CHUNK
    for raw in client.hvals(UNACKED_KEY):
        entry = _loads(raw)
        if isinstance(entry, list) and entry:
            yield entry[0]


def _slot_ids(messages: Iterable[object]) -> Iterator[int]:
    for message in messages:
        if not isinstance(message, dict) or message.get("headers", {}).get("task") != TASK_NAME:
            continue
        body = message.get("body", "")
        try:
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args = json.loads(body)[0]
            yield int(args[0])
        except (ValueError, TypeError, IndexError, KeyError, binascii.Error):
            continue  # not one of ours, or another format: never counted as held


def _loads(raw: bytes | str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None
