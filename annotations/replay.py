"""What the console shows for each step, computed by replay.

Step i is shown as the state the player saw *before* answering (frame, HUD,
and the model's text observation ``adapter.observation().text``) next to
what it answered (``Step.raw_input``), what was executed (``Step.action``)
and the step's model-call record (``Step.meta``).

Rebuilding an adapter per step would cost O(n^2) over an episode; a window
of steps is computed in one replay pass instead, with an adapter borrowed
from the replay cursors (``games.cursors``: a bounded LRU of adapters
positioned in episodes' logs, so the next window going forward continues
where this one stopped). A window is capped in steps and in bytes.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from games.base import GameAdapter
from games.cursors import replay_cursors
from games.models import Episode, Step
from reference.view import model_view

MAX_WINDOW_STEPS = 200
MAX_WINDOW_BYTES = 2_000_000
MAX_META_CHARS = 20_000
CYCLE_PERIODS = (2, 3)  # action cycles looked for: left/right/left/right, a/b/c/a/b/c
ROW_FIELDS = ("index", "action", "raw_input", "valid", "executed", "reward", "progression", "done", "meta")


def state_view(adapter: GameAdapter) -> dict[str, Any]:
    return {"frame": adapter.frame(), "hud": adapter.hud(), "observation": model_view(adapter)}


def step_window(episode: Episode, start: int, count: int) -> dict[str, Any]:
    """Steps start .. start+count-1 (clipped), each with the state before it;
    the window that reaches the end also carries the final state."""
    start = max(0, min(start, episode.steps))
    stop = min(episode.steps, start + max(1, min(count, MAX_WINDOW_STEPS)))
    items: list[dict[str, Any]] = []
    final: dict[str, Any] | None = None
    size = 0
    with replay_cursors().positioned(episode, start) as adapter:
        rows = Step.objects.filter(episode=episode, index__gte=start, index__lt=stop).order_by("index")
        for row in rows.values(*ROW_FIELDS).iterator(chunk_size=500):
            item = {**state_view(adapter), **_step_fields(row)}
            items.append(item)
            size += len(json.dumps(item, ensure_ascii=False))
            adapter.replay(row["executed"], row["action"], row["valid"])
            if size >= MAX_WINDOW_BYTES:
                break
        if adapter.steps == episode.steps:
            final = {**state_view(adapter), "index": episode.steps}
    return {"episode": episode.pk, "start": start, "total": episode.steps, "steps": items, "final": final}


def _step_fields(row: dict[str, Any]) -> dict[str, Any]:
    meta = json.dumps(row["meta"] or {}, ensure_ascii=False, indent=1)
    return {
        "index": row["index"],
        "action": row["action"],
        "raw_input": row["raw_input"],
        "valid": row["valid"],
        "executed": row["executed"],
        "reward": row["reward"],
        "progression": row["progression"],
        "done": row["done"],
        # Shown as text only; a huge record is cut rather than shipped whole.
        "meta": meta if len(meta) <= MAX_META_CHARS else meta[:MAX_META_CHARS] + "\n… (cut)",
    }


@dataclass(frozen=True)
class StepCues:
    """Indexes of steps worth a look, from the log alone (no replay)."""

    invalid: list[int]  # the answer was not a valid action
    repeated: list[int]  # the same action as the step before
    cycle: list[int]  # completes a second round of a cycle of 2 or 3 different actions

    def to_json(self) -> dict[str, list[int]]:
        return {"invalid": self.invalid, "repeated": self.repeated, "cycle": self.cycle}


def step_cues(episode: Episode) -> StepCues:
    """From the executed actions only: state digests cannot tell a loop, since
    most games count steps or turns in their state."""
    invalid: list[int] = []
    repeated: list[int] = []
    cycle: list[int] = []
    recent: deque[str] = deque(maxlen=2 * max(CYCLE_PERIODS))
    rows = Step.objects.filter(episode=episode).order_by("index").values_list("index", "action", "valid")
    for index, action, valid in rows.iterator(chunk_size=2000):
        if not valid:
            invalid.append(index)
        if recent and action == recent[-1]:
            repeated.append(index)
        recent.append(action)
        if any(_completes_cycle(list(recent), p) for p in CYCLE_PERIODS):
            cycle.append(index)
    return StepCues(invalid, repeated, cycle)


def _completes_cycle(actions: list[str], period: int) -> bool:
    """The last 2 * period actions are one block of ``period`` actions twice,
    and the block is not a single action repeated (that is "repeated")."""
    if len(actions) < 2 * period:
        return False
    tail = actions[-2 * period :]
    return tail[:period] == tail[period:] and len(set(tail[:period])) > 1
