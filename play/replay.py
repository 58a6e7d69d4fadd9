"""Frames of any version of an episode, computed by replay.

The adapters come from ``games.cursors`` (a bounded LRU of adapters kept
positioned in episodes' logs), so a window of frames costs one replay pass
and a viewer going forward never replays from the start again. Each window
stops at MAX_WINDOW_FRAMES frames or MAX_WINDOW_BYTES of JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from games.base import GameAdapter
from games.cursors import replay_cursors
from games.live import live_games
from games.models import Episode, Step
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
