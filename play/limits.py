"""Rate limits: actions per second per episode, what viewers may cost per
client address, episodes started per hour.

Actions are limited in process memory (a token bucket per episode): the steps
of one episode are served by the process its player is connected to, and a
limit that is briefly per-process is good enough against key flooding. Viewer
connections and syncs are limited per address in process memory too (per
process: N web processes admit up to N times as much from one address).
Episode creation is counted in the database, so it holds across processes
and restarts.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from datetime import timedelta
from typing import Generic, TypeVar

from django.conf import settings
from django.utils import timezone

from balrogweb.runtime import ProcessSingleton
from ops.ratelimit import TokenBucket
from play.models import PlayRecord

_MAX_BUCKETS = 20_000  # bounded: the least recently used keys are forgotten

Key = TypeVar("Key")


class KeyedLimiter(Generic[Key]):
    """A token bucket per key (an episode, a client address), in process memory."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: OrderedDict[Key, TokenBucket] = OrderedDict()
        self._guard = threading.Lock()

    def allow(self, key: Key) -> bool:
        now = time.monotonic()
        with self._guard:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket.full(self.rate, self.burst, now)
                self._buckets[key] = bucket
                if len(self._buckets) > _MAX_BUCKETS:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return bucket.take(now)

    def would_allow(self, key: Key) -> bool:
        """Whether ``allow`` would say yes now, taking nothing."""
        now = time.monotonic()
        with self._guard:
            bucket = self._buckets.get(key)
            if bucket is None:
                return True
            return min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.rate) >= 1.0


ActionLimiter = KeyedLimiter[int]  # keyed by episode id


class ViewerLimits:
    """What anonymous and other non-player connections may cost, per client
    address: viewer connections open at once, viewer connections opened per
    second (a reconnect loop), and syncs per second (each one may encode up to
    MAX_MISSED_STEPS steps). A connection of the episode's own player is
    never counted here (play.services.open_connection decides who is one)."""

    def __init__(self, max_open: int, connects: KeyedLimiter[str], syncs: KeyedLimiter[str]) -> None:
        self.max_open = max_open
        self.connects = connects
        self.syncs = syncs
        # Weak: a connection whose consumer died without its disconnect stops counting once collected.
        self._open: dict[str, weakref.WeakSet[ViewerAdmission]] = {}
        self._guard = threading.Lock()

    def admit(self, admission: ViewerAdmission) -> str:
        """Count one more viewer connection from its address ('' if admitted),
        or say why not."""
        address = admission.address
        with self._guard:
            held = self._open.setdefault(address, weakref.WeakSet())
            if len(held) >= self.max_open:
                return f"{self.max_open} connections are already watching from your address; close one first"
            if not self.connects.allow(address):
                return "too many viewer connections opened from your address; try again in a few seconds"
            held.add(admission)
            return ""

    def would_refuse(self, address: str) -> bool:
        """Whether a viewer connection from ``address`` would be refused now (nothing taken)."""
        with self._guard:
            full = len(self._open.get(address, ())) >= self.max_open
        return full or not self.connects.would_allow(address)

    def release(self, admission: ViewerAdmission) -> None:
        with self._guard:
            held = self._open.get(admission.address)
            if held is not None:
                held.discard(admission)
                if not held:
                    del self._open[admission.address]

    def allow_sync(self, address: str) -> bool:
        return self.syncs.allow(address)

    def open_count(self, address: str) -> int:
        with self._guard:
            return len(self._open.get(address, ()))


class ViewerAdmission:
    """One connection's place among its address's viewers: taken at most once
    (at hello, from the step pool's thread), released at most once."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.counted = False

    def admit(self) -> str:
        """'' when admitted (then counted until released), else the refusal."""
        if self.counted:
            return ""
        refusal = viewer_limits().admit(self)
        self.counted = not refusal
        return refusal

    def release(self) -> None:
        if self.counted:
            self.counted = False
            viewer_limits().release(self)


_limiter = ProcessSingleton(
    "play.action_limiter",
    lambda: ActionLimiter(settings.BALROG_PLAY_ACTIONS_PER_SECOND, settings.BALROG_PLAY_ACTION_BURST),
)
_viewer_limits = ProcessSingleton(
    "play.viewer_limits",
    lambda: ViewerLimits(
        settings.BALROG_PLAY_VIEWERS_PER_ADDRESS,
        KeyedLimiter(settings.BALROG_PLAY_VIEWER_CONNECTS_PER_SECOND, settings.BALROG_PLAY_VIEWER_CONNECT_BURST),
        KeyedLimiter(settings.BALROG_PLAY_SYNCS_PER_SECOND, settings.BALROG_PLAY_SYNC_BURST),
    ),
)


def action_limiter() -> ActionLimiter:
    return _limiter.get()


def viewer_limits() -> ViewerLimits:
    return _viewer_limits.get()


def reset_action_limiter() -> None:
    """Forget every bucket and count, actions and viewers (tests change the settings)."""
    _limiter.take()
    _viewer_limits.take()


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
