"""Encoded viewer messages (snapshots, steps), cached per process by version.

Viewers of one episode ask for the same texts: the step just committed (every
viewer hears of it at once) and the current state with the last few hundred
steps (reconnects, syncs). Built once, each is a string lookup for the others:
N viewers cost one read of the steps and one encode, not N.

Each entry is keyed by everything its text depends on: the episode's version
and end as read from the database for this very request, and the request's
own parameters. A step, once written, never changes (one row per episode and
index), so a cached text is never stale for its key, and a newer version or an
end is another key: a viewer never gets an older version presented as current.
Bounded by total characters (BALROG_PLAY_SNAPSHOT_CACHE_CHARS), least recently
used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.conf import settings

from balrogweb.runtime import ProcessSingleton

V = TypeVar("V")

# Views (version, frame, hud, actions) kept per process. A replay cursor only
# moves forward: a view asked for after a newer one was built (two viewers'
# requests crossing in the pool) would replay the episode from its seed,
# hundreds of NetHack steps, unless the view is still here.
MAX_VIEWS = 256


class BoundedCache(Generic[V]):
    """An LRU bounded by the total ``size`` of its values."""

    def __init__(self, max_size: int, size: Callable[[V], int]) -> None:
        self.max_size = max_size
        self.size = size
        self.used = 0
        self.builds = 0  # values built (misses), for tests and the bench
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._guard = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value for ``key``, built by ``build`` once however many threads ask at the same time."""
        value = self._get(key)
        if value is not None:
            return value
        with self._guard:
            building = self._building.setdefault(key, threading.Lock())
        try:
            with building:
                value = self._get(key)
                if value is None:
                    value = build()
                    self._put(key, value)
        finally:
            with self._guard:
                self._building.pop(key, None)
        return value

    def _get(self, key: Hashable) -> V | None:
        with self._guard:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def _put(self, key: Hashable, value: V) -> None:
        size = self.size(value)
        with self._guard:
            self.builds += 1
            if size > self.max_size:
                return
            self._values[key] = value
            self.used += size
            while self.used > self.max_size:
                _, old = self._values.popitem(last=False)
                self.used -= self.size(old)

    def clear(self) -> None:
        with self._guard:
            self._values.clear()
            self.used = 0
            self.builds = 0

    def __len__(self) -> int:
        return len(self._values)


_texts = ProcessSingleton(
    "play.viewer_texts", lambda: BoundedCache[str](settings.BALROG_PLAY_SNAPSHOT_CACHE_CHARS, len)
)
_views = ProcessSingleton("play.viewer_views", lambda: BoundedCache[dict[str, Any]](MAX_VIEWS, lambda view: 1))


def viewer_texts() -> BoundedCache[str]:
    """Encoded snapshot and step messages, bounded by their characters."""
    return _texts.get()


def viewer_views() -> BoundedCache[dict[str, Any]]:
    """Views by (episode, version, observation), never modified once built."""
    return _views.get()
