"""Frames of any version of an episode, computed by replay.

``games.services.rebuild_adapter(episode, upto=n)`` costs O(n). A replay page
asks for many consecutive frames and spectators ask for each new version, so
this module keeps a few adapters ("cursors") positioned in episodes' logs and
moves them forward: a window of frames costs one replay pass, and a viewer
going forward never replays from the start again. Going backward rebuilds
once. Memory is bounded: at most BALROG_PLAY_REPLAY_CURSORS adapters per
process, and each window stops at MAX_WINDOW_FRAMES frames or
MAX_WINDOW_BYTES of JSON.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from balrogweb.runtime import ProcessSingleton
from games.base import GameAdapter
from games.live import live_games
from games.models import Episode, Step
from games.services import rebuild_adapter
from play.protocol import encode
from reference.view import model_view

MAX_WINDOW_FRAMES = 500
MAX_WINDOW_BYTES = 2_000_000
STEP_FIELDS = ("index", "action", "raw_input", "valid", "reward", "progression", "done", "executed")


def dumps(value: Any) -> str:
    return encode(value)  # strict JSON: no NaN or Infinity (play.protocol)


def adapter_view(adapter: GameAdapter, with_observation: bool) -> dict[str, Any]:
    """What a browser draws for the adapter's current state."""
    view: dict[str, Any] = {
        "version": adapter.steps,
        "frame": adapter.frame(),
        "hud": adapter.hud(),
        "actions": adapter.action_space(),
    }
    if with_observation:
        view["observation"] = model_view(adapter)
    return view


def step_record(row: dict[str, Any]) -> dict[str, Any]:
    """A logged step as the protocol shows it."""
    return {
        "index": row["index"],
        "action": row["action"],
        "input": row["raw_input"],
        "valid": row["valid"],
        "reward": row["reward"],
        "progression": row["progression"],
        "done": row["done"],
        "executed": row["executed"],
    }


def step_rows(episode_id: int, start: int, stop: int) -> Iterator[dict[str, Any]]:
    rows = Step.objects.filter(episode_id=episode_id, index__gte=start, index__lt=stop).order_by("index")
    yield from rows.values(*STEP_FIELDS).iterator(chunk_size=1000)


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
        """An adapter at ``version`` of the episode (exclusive while in use)."""
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
                for row in step_rows(episode.pk, adapter.steps, version):
                    adapter.replay(row["executed"], row["action"], row["valid"])
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
            with old.lock:  # waits for a reader still using it
                if old.adapter is not None:
                    old.adapter.close()
                    old.adapter = None
        return cursor

    def forget(self, episode_id: int) -> None:
        with self._guard:
            cursor = self._cursors.pop(episode_id, None)
        if cursor is not None:
            with cursor.lock:
                if cursor.adapter is not None:
                    cursor.adapter.close()
                    cursor.adapter = None

    def clear(self) -> None:
        with self._guard:
            ids = list(self._cursors)
        for episode_id in ids:
            self.forget(episode_id)

    def __len__(self) -> int:
        return len(self._cursors)


_cursors = ProcessSingleton("play.replay_cursors", lambda: ReplayCursors(settings.BALROG_PLAY_REPLAY_CURSORS))


def replay_cursors() -> ReplayCursors:
    return _cursors.get()


def view_at(episode: Episode, version: int, with_observation: bool) -> dict[str, Any]:
    """The view at ``version`` (clipped to the log): from this process's live
    game when it is at that version, else from a replay cursor."""
    version = min(version, episode.steps)
    with live_games().lock_for(episode.pk):
        adapter = live_games().get(episode.pk)
        if adapter is not None and adapter.steps == version:
            return adapter_view(adapter, with_observation)
    with replay_cursors().positioned(episode, version) as adapter:
        return adapter_view(adapter, with_observation)


def frames_window_json(episode: Episode, start: int, count: int, with_observation: bool) -> str:
    """JSON for the frames of versions start .. start+count-1 (clipped to the
    log and to the window bounds), computed in one replay pass; each frame
    after version 0 carries the step that led to it."""
    stop = min(episode.steps + 1, start + max(1, min(count, MAX_WINDOW_FRAMES)))
    parts: list[str] = []
    size = 0
    if start <= episode.steps:
        with replay_cursors().positioned(episode, start) as adapter:
            first = _step_of(episode.pk, start - 1) if start > 0 else None
            parts.append(dumps({**adapter_view(adapter, with_observation), "step": first}))
            size = len(parts[0])
            for row in step_rows(episode.pk, start, stop - 1):
                if size >= MAX_WINDOW_BYTES:
                    break
                adapter.replay(row["executed"], row["action"], row["valid"])
                part = dumps({**adapter_view(adapter, with_observation), "step": step_record(row)})
                parts.append(part)
                size += len(part)
    head = dumps({"episode": episode.pk, "start": start, "total": episode.steps + 1, "status": episode.status})
    return f'{head[:-1]},"frames":[{",".join(parts)}]}}'


def _step_of(episode_id: int, index: int) -> dict[str, Any] | None:
    row = next(step_rows(episode_id, index, index + 1), None)
    return step_record(row) if row is not None else None
