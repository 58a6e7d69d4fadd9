"""Rate limits: actions per second per episode, episodes started per hour.

Actions are limited in process memory (a token bucket per episode): the steps
of one episode are served by the process its player is connected to, and a
limit that is briefly per-process is good enough against key flooding.
Episode creation is counted in the database, so it holds across processes
and restarts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from play.models import PlayRecord

_MAX_BUCKETS = 20_000  # bounded: the least recently used episodes are forgotten


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class ActionLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: OrderedDict[int, TokenBucket] = OrderedDict()
        self._guard = threading.Lock()

    def allow(self, episode_id: int) -> bool:
        now = time.monotonic()
        with self._guard:
            bucket = self._buckets.get(episode_id)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.burst, self.burst, now)
                self._buckets[episode_id] = bucket
                if len(self._buckets) > _MAX_BUCKETS:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(episode_id)
            return bucket.take(now)


_limiter: ActionLimiter | None = None


def action_limiter() -> ActionLimiter:
    global _limiter
    if _limiter is None:
        _limiter = ActionLimiter(settings.BALROG_PLAY_ACTIONS_PER_SECOND, settings.BALROG_PLAY_ACTION_BURST)
    return _limiter


def reset_action_limiter() -> None:
    """Forget every bucket (tests change the settings)."""
    global _limiter
    _limiter = None


def creation_refusal(owner: str, client_ip: str | None) -> str:
    """Why this player may not start another episode now ('' if they may)."""
    since = timezone.now() - timedelta(hours=1)
    recent = PlayRecord.objects.filter(created_at__gte=since)
    if recent.filter(owner=owner).count() >= settings.BALROG_PLAY_EPISODES_PER_HOUR:
        return f"you have started {settings.BALROG_PLAY_EPISODES_PER_HOUR} episodes in the last hour; try again later"
    per_ip = settings.BALROG_PLAY_EPISODES_PER_HOUR_PER_IP
    if client_ip and recent.filter(client_ip=client_ip).count() >= per_ip:
        return f"{per_ip} episodes were started from your address in the last hour; try again later"
    return ""
