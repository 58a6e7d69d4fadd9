"""BabyAI as BALROG plays it: BabyAI-MixedTrainLocal-v0, split into five task
families (goto, pickup, open, putnext, pick_up_seq_go_to).

Facts from the reference evaluator (BALROG ``balrog/environments/babyai_text``):

* actions, in minigrid's order: ``turn left``, ``turn right``, ``go forward``,
  ``pick up``, ``drop``, ``toggle``; an invalid answer executes ``go forward``;
* the env's own ``max_steps`` ends the episode (64 or 128 here);
* progression is 1 once a step gave reward > 0 (success reward is
  ``1 - 0.9 * steps / max_steps``, always > 0);
* the model sees the mission and the babyai-text descriptions of its view.

The levels are built from upstream minigrid classes: see ``games.babyai.levels``.
Raw actions are minigrid's action indices (0..5); ``reset(seed)`` alone fixes
the layout, so a (seed, raw actions) log replays exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypedDict, TypeVar

import minigrid
import numpy as np

from games.babyai.describe import DIRECTIONS, LEGEND, describe_view, grid_rows, view_rows
from games.babyai.levels import BALROG_NUM_DISTS, FAMILIES, ROOM_SIZE, MixedTrainLocalLevel
from games.base import (
    AdapterStateError,
    Hud,
    IndexedActionsAdapter,
    KeyBinding,
    ModelObservation,
    RawAction,
    RawOutcome,
    TaskInfo,
)
from games.images import png_bytes
from games.jsontypes import JSONObject, JSONValue
from games.progression import PositiveRewardProgression, ProgressionTracker

ENV_ID = "BabyAI-MixedTrainLocal-v0"
# Language actions in minigrid's Actions order: the index is the raw action.
ACTIONS: tuple[str, ...] = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")
ACTION_MEANINGS = {
    "turn left": "turn 90 degrees to the left, staying in place",
    "turn right": "turn 90 degrees to the right, staying in place",
    "go forward": "move one cell forward (walls, objects and closed doors block the way)",
    "pick up": "pick up the object in the cell right in front of you (you can hold one object)",
    "drop": "put the object you hold in the empty cell right in front of you",
    "toggle": "open or close the door right in front of you; a locked door opens only "
    "if you hold the key of its colour",
}
PNG_TILE_SIZE = 32

T = TypeVar("T")

_TASK_TEXT = {
    "goto": ("Go to", "Walk up to the named object so that it is right in front of you."),
    "pickup": ("Pick up", "Find the named object and pick it up."),
    "open": (
        "Open the door",
        "Two rooms joined by a locked door: fetch the key of the door's colour and open it.",
    ),
    "putnext": ("Put next to", "Pick up one object and drop it next to another."),
    "pick_up_seq_go_to": (
        "Pick up, then go to",
        "Pick up one object, then walk up to another, in the order the mission gives.",
    ),
}


class BabyAIAgent(TypedDict):
    x: int
    y: int
    dir: str  # east, south, west, north


class BabyAIFrame(TypedDict):
    width: int
    height: int
    grid: list[str]  # rows of cell codes (describe.LEGEND)
    view: list[str]  # rows of 0/1: the cells in the agent's view
    agent: BabyAIAgent
    carrying: str | None
    mission: str
    legend: dict[str, JSONValue]


class BabyAIHud(Hud):
    mission: str
    max_steps: int | None
    carrying: str | None


class BabyAIAdapter(IndexedActionsAdapter):
    env: ClassVar[str] = "babyai"
    title = "BabyAI"
    blurb = "A grid world: follow a written instruction (go to, pick up, open, put next to)."
    renderer = "grid"
    default_action: ClassVar[str] = "go forward"
    actions = ACTIONS
    adapter_version: ClassVar[str] = "1"

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        self.family = task.split("/", 1)[1]
        self.level = self._make_level()
        #: the last raw action executed (the bot policy reads it); None after reset
        self.last_raw_action: int | None = None
        self._image: np.ndarray | None = None
        self._version = 0  # bumped on every env change; keys the view caches
        self._cache: dict[str, tuple[int, Any]] = {}

    def _make_level(self) -> MixedTrainLocalLevel:
        """The level instance of this task (subclasses pass other parameters)."""
        return MixedTrainLocalLevel(self.family)

    # ----- catalogue -----------------------------------------------------
    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return [
            TaskInfo(
                env="babyai",
                task=f"{ENV_ID}/{family}",
                title=_TASK_TEXT[family][0],
                description=_TASK_TEXT[family][1],
                step_cap=None,
                episodes_per_task=10,
            )
            for family in FAMILIES
        ]

    @classmethod
    def key_bindings(cls) -> list[KeyBinding]:
        return [
            KeyBinding("ArrowLeft", "turn left", "Left arrow"),
            KeyBinding("ArrowRight", "turn right", "Right arrow"),
            KeyBinding("ArrowUp", "go forward", "Up arrow"),
            KeyBinding(" ", "pick up", "Space"),
            KeyBinding("d", "drop", "D"),
            KeyBinding("t", "toggle", "T"),
        ]

    @classmethod
    def engine_version(cls) -> str:
        return f"minigrid-{minigrid.__version__}+babyai-adapter-{cls.adapter_version}"

    def make_tracker(self) -> ProgressionTracker:
        return PositiveRewardProgression()

    # ----- env hooks -------------------------------------------------------
    def _reset(self, seed: int) -> JSONObject:
        obs, _ = self.level.reset(seed=seed)
        self._set_image(obs["image"])
        self.last_raw_action = None
        level = self.level
        return {
            "env_id": ENV_ID,
            "family": self.family,
            "level": "games.babyai.levels.MixedTrainLocalLevel",
            "room_size": ROOM_SIZE,
            "num_dists": BALROG_NUM_DISTS,
            "grid_size": [level.width, level.height],
            "max_steps": int(level.max_steps),
            "mission": level.mission,
        }

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        if self._image is None:
            raise AdapterStateError("step before reset")
        action = self._check_raw(raw)
        obs, reward, terminated, truncated, _ = self.level.step(action)
        self._set_image(obs["image"])
        self.last_raw_action = action
        won = bool(terminated) and float(reward) > 0
        detail = "" if not terminated else "mission accomplished" if won else "mission failed"
        return RawOutcome(
            reward=float(reward),
            terminated=bool(terminated),
            truncated=bool(truncated),
            won=won,
            detail=detail,
        )

    def _set_image(self, image: np.ndarray) -> None:
        # minigrid builds a new array per observation; copy anyway so nothing
        # the env does later can change what we describe.
        self._image = np.array(image, dtype=np.uint8, copy=True)
        self._version += 1

    # ----- views ------------------------------------------------------------
    def observation(self) -> ModelObservation:
        return self._cached("observation", self._build_observation)

    def _build_observation(self) -> ModelObservation:
        carrying, seen = describe_view(self._view())
        parts = [f"Mission: {self.level.mission}"]
        if carrying is not None:
            parts.append(f"You are carrying {carrying}.")
        parts.append("You see:")
        parts.extend(seen or ["nothing but empty floor"])
        return ModelObservation(long_term="\n".join(parts))

    def frame(self) -> BabyAIFrame:
        """The full grid as rows of cell codes (see ``describe.LEGEND``), the
        cells in view as rows of 0/1, the agent, what it carries, the mission.
        Cached per state: treat it as read-only."""
        return self._cached("frame", self._build_frame)

    def _build_frame(self) -> BabyAIFrame:
        level = self.level
        x, y = self._agent_xy()
        carrying = level.carrying
        return {
            "width": level.width,
            "height": level.height,
            "grid": self._grid_rows(),
            "view": view_rows(self._view(), (x, y), int(level.agent_dir), level.width, level.height),
            "agent": {"x": x, "y": y, "dir": DIRECTIONS[int(level.agent_dir)]},
            "carrying": f"{carrying.color} {carrying.type}" if carrying is not None else None,
            "mission": level.mission,
            "legend": LEGEND,
        }

    def render_png(self) -> bytes:
        self._view()  # raises before reset
        return png_bytes(self.level.get_frame(highlight=True, tile_size=PNG_TILE_SIZE))

    def state_bytes(self) -> bytes:
        return self._cached("state_bytes", self._build_state_bytes)

    def _build_state_bytes(self) -> bytes:
        """Mission, view image (what the model text is made from), and the full
        state behind it: grid codes, agent position and direction, carried
        object, env step count (the success reward depends on it)."""
        level = self.level
        x, y = self._agent_xy()
        carrying = level.carrying
        head = json.dumps(
            [
                level.mission,
                [x, y, int(level.agent_dir)],
                f"{carrying.color} {carrying.type}" if carrying is not None else "",
                int(level.step_count),
                self._grid_rows(),
            ],
            separators=(",", ":"),
        )
        return head.encode("utf-8") + b"\0" + self._view().tobytes()

    def instructions(self) -> str:
        actions = "\n".join(f"- {name}: {meaning}" for name, meaning in ACTION_MEANINGS.items())
        mission = self.level.mission if self._image is not None else "(given after the episode starts)"
        return (
            "You are an agent in a BabyAI grid world: rooms with walls, doors, and keys, balls and "
            "boxes of six colours.\n"
            f"Your mission: {mission}.\n"
            "To go to an object means to stand so that it is in the cell right in front of you; "
            "you interact only with the cell right in front of you.\n\n"
            f"Actions (answer with exactly one):\n{actions}\n\n"
            "Each observation repeats the mission and lists what you see in the 7x7 area ahead of "
            "you (you cannot see through walls or closed doors): walls and objects with their "
            "distance in steps to your left or right and forward, and what you carry. The episode "
            "ends when the mission is accomplished or after the level's step limit "
            f"({self._max_steps_text()})."
        )

    def _max_steps_text(self) -> str:
        if self._image is None:
            return "64 or 128 steps"
        return f"{int(self.level.max_steps)} steps"

    def hud(self) -> BabyAIHud:
        carrying = self.level.carrying
        return {
            **super().hud(),
            "mission": self.level.mission if self._image is not None else "",
            "max_steps": int(self.level.max_steps) if self._image is not None else None,
            "carrying": f"{carrying.color} {carrying.type}" if carrying is not None else None,
        }

    def close(self) -> None:
        self.level.close()

    # ----- helpers ------------------------------------------------------------
    def _view(self) -> np.ndarray:
        if self._image is None:
            raise AdapterStateError("no state before reset")
        return self._image

    def _agent_xy(self) -> tuple[int, int]:
        x, y = self.level.agent_pos
        return int(x), int(y)

    def _grid_rows(self) -> list[str]:
        return self._cached("grid", self._build_grid_rows)

    def _build_grid_rows(self) -> list[str]:
        return grid_rows(self.level.grid.grid, self.level.width)

    def _cached(self, key: str, build: Callable[[], T]) -> T:
        """Build each view once per env state: the service asks for the
        observation, frame and digest of the same state."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._version:
            cached: T = hit[1]
            return cached
        self._view()  # raises before reset
        value = build()
        self._cache[key] = (self._version, value)
        return value
