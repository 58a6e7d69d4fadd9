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

from django.conf import settings

from games.threads import ProcessSingleton


class TextCache:
    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.chars = 0
        self.builds = 0  # texts built (misses), for tests and the bench
        self._texts: OrderedDict[Hashable, str] = OrderedDict()
        self._guard = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get_or_build(self, key: Hashable, build: Callable[[], str]) -> str:
        """The text for ``key``, built by ``build`` once however many threads ask at the same time."""
        text = self._get(key)
        if text is not None:
            return text
        with self._guard:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            text = self._get(key)
            if text is None:
                text = build()
                self._put(key, text)
        with self._guard:
            self._building.pop(key, None)
        return text

    def _get(self, key: Hashable) -> str | None:
        with self._guard:
            text = self._texts.get(key)
            if text is not None:
                self._texts.move_to_end(key)
            return text

    def _put(self, key: Hashable, text: str) -> None:
        with self._guard:
            self.builds += 1
            if len(text) > self.max_chars:
                return
            self._texts[key] = text
            self.chars += len(text)
            while self.chars > self.max_chars:
                _, old = self._texts.popitem(last=False)
                self.chars -= len(old)

    def clear(self) -> None:
        with self._guard:
            self._texts.clear()
            self.chars = 0
            self.builds = 0

    def __len__(self) -> int:
        return len(self._texts)


_cache = ProcessSingleton(lambda: TextCache(settings.BALROG_PLAY_SNAPSHOT_CACHE_CHARS))


def viewer_texts() -> TextCache:
    return _cache.get()
