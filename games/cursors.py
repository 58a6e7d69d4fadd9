"""Adapters kept positioned in episodes' logs ("replay cursors").

``games.services.rebuild_adapter(episode, upto=n)`` costs O(n). A replay page
asks for many consecutive frames, spectators ask for each new version and the
annotation console walks an episode window by window, so this module keeps a
few adapters positioned in episodes' logs and moves them forward: a window
costs one replay pass, and a reader going forward never replays from the
start again. Going backward rebuilds once. Memory is bounded: at most
BALROG_PLAY_REPLAY_CURSORS adapters per process (least recently used first out).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings

from balrogweb.runtime import ProcessSingleton
from games.base import GameAdapter
from games.models import Episode, Step
from games.services import rebuild_adapter


@dataclass
class _Cursor:
    lock: threading.Lock = field(default_factory=threading.Lock)
    adapter: GameAdapter | None = None


class ReplayCursors:
    """A bounded LRU of adapters positioned in episodes' logs."""

    def __init__(self, max_cursors: int) -> None:
        self.max_cursors = max_cursors
        self._cursors: OrderedDict[int, _Cursor] = OrderedDict()
        self._guard = threading.Lock()

    @contextmanager
    def positioned(self, episode: Episode, version: int) -> Iterator[GameAdapter]:
        """An adapter at ``version`` of the episode (exclusive while in use:
        the caller may move it further with ``adapter.replay``)."""
        cursor = self._checkout(episode.pk)
        with cursor.lock:
            adapter = cursor.adapter
            if adapter is None or adapter.steps > version:
                if adapter is not None:
                    adapter.close()
                cursor.adapter = None  # a failed rebuild must not leave a stale adapter
                adapter = rebuild_adapter(episode, upto=version)
                cursor.adapter = adapter
            try:
                _move_forward(adapter, episode.pk, version)
                yield adapter
            except BaseException:
                # A replay that failed half-way leaves the env in between two
                # steps: never reuse it.
                adapter.close()
                cursor.adapter = None
                raise

    def _checkout(self, episode_id: int) -> _Cursor:
        evicted: list[_Cursor] = []
        with self._guard:
            cursor = self._cursors.get(episode_id)
            if cursor is None:
                cursor = self._cursors[episode_id] = _Cursor()
            self._cursors.move_to_end(episode_id)
            while len(self._cursors) > self.max_cursors:
                evicted.append(self._cursors.popitem(last=False)[1])
        for old in evicted:
            _close(old)  # waits for a reader still using it
        return cursor

    def forget(self, episode_id: int) -> None:
        with self._guard:
            cursor = self._cursors.pop(episode_id, None)
        if cursor is not None:
            _close(cursor)

    def clear(self) -> None:
        with self._guard:
            ids = list(self._cursors)
        for episode_id in ids:
            self.forget(episode_id)

    def __len__(self) -> int:
        return len(self._cursors)


def _move_forward(adapter: GameAdapter, episode_id: int, version: int) -> None:
    rows = Step.objects.filter(episode_id=episode_id, index__gte=adapter.steps, index__lt=version).order_by("index")
    for executed, action, valid in rows.values_list("executed", "action", "valid").iterator(chunk_size=1000):
        adapter.replay(executed, action, valid)


def _close(cursor: _Cursor) -> None:
    with cursor.lock:
        if cursor.adapter is not None:
            cursor.adapter.close()
            cursor.adapter = None


_cursors = ProcessSingleton("games.replay_cursors", lambda: ReplayCursors(settings.BALROG_PLAY_REPLAY_CURSORS))


def replay_cursors() -> ReplayCursors:
    return _cursors.get()
