"""Live games held in this process: one adapter per running episode.

The database is the truth; an adapter here is a cache of the game state that
the episode's action log rebuilds on demand (after a restart, in another
process, after eviction). Invariant: an adapter is only stepped while its
episode's lock is held, so one thread at a time writes each episode.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from balrogweb.runtime import ProcessSingleton
from games.base import GameAdapter


@dataclass
class _Entry:
    adapter: GameAdapter
    lock: threading.Lock
    last_used: float = field(default_factory=time.monotonic)


class LiveGames:
    """A bounded LRU of adapters with a lock per episode."""

    def __init__(self, max_games: int) -> None:
        self.max_games = max_games
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._guard = threading.Lock()  # protects _entries and _locks, never held while stepping
        # A lock lives as long as an entry or a thread holding it refers to it.
        self._locks: weakref.WeakValueDictionary[int, threading.Lock] = weakref.WeakValueDictionary()

    def lock_for(self, episode_id: int) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(episode_id)
            if lock is None:
                lock = threading.Lock()
                self._locks[episode_id] = lock
            return lock

    def get(self, episode_id: int) -> GameAdapter | None:
        with self._guard:
            entry = self._entries.get(episode_id)
            if entry is None:
                return None
            entry.last_used = time.monotonic()
            self._entries.move_to_end(episode_id)
            return entry.adapter

    def put(self, episode_id: int, adapter: GameAdapter) -> None:
        evicted: list[GameAdapter] = []
        with self._guard:
            old = self._entries.pop(episode_id, None)
            if old is not None and old.adapter is not adapter:
                evicted.append(old.adapter)
            lock = self._locks.get(episode_id) or threading.Lock()
            self._locks[episode_id] = lock
            self._entries[episode_id] = _Entry(adapter, lock)
            while len(self._entries) > self.max_games:
                _, entry = self._entries.popitem(last=False)
                evicted.append(entry.adapter)
        for stale in evicted:
            stale.close()

    def evict(self, episode_id: int) -> None:
        with self._guard:
            entry = self._entries.pop(episode_id, None)
        if entry is not None:
            entry.adapter.close()

    def idle_since(self, cutoff: float) -> list[int]:
        """Episode ids whose adapter has not been used since ``cutoff`` (monotonic)."""
        with self._guard:
            return [eid for eid, entry in self._entries.items() if entry.last_used < cutoff]

    def clear(self) -> None:
        with self._guard:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            entry.adapter.close()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, episode_id: object) -> bool:
        return episode_id in self._entries


def _build_registry() -> LiveGames:
    from django.conf import settings

    return LiveGames(settings.BALROG_LIVE_GAMES_MAX)


_registry = ProcessSingleton("games.live_games", _build_registry)


def live_games() -> LiveGames:
    return _registry.get()
