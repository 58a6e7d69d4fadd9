"""MiniHack (BALROG env key ``minihack``): BALROG's eight MiniHack tasks.

The envs are built as BALROG builds them: its ``minihack_kwargs`` (random
character, 100 steps, step penalty -0.01, no autopickup) and the observation
keys its language wrapper reads, plus the terminal colours for the frame.
The language actions are BALROG's MiniHack set restricted to the task's own
action set (e.g. Boxoban: the four cardinal moves). Progression: 1 once a
step gave reward >= 1 (``UnitRewardProgression``).

Boxoban: minihack 1.0.2 draws its level with Python's global ``random`` from
level files it does not ship. Here the adapter picks the level from the
episode seed (see ``boxoban.choose_level``), from the generated set by
default or from the official set (option ``level_source="official"``), and
hands it to a minihack Boxoban env subclass; ``_reset`` reports the source,
the level id and its digest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium
import minihack
import nle

from games.base import KeyBinding, RawOutcome, TaskInfo
from games.jsontypes import JSONObject, JSONValue
from games.nethack import boxoban
from games.nethack.common import (
    MOVE_DESCRIPTIONS,
    OBSERVATION_KEYS,
    NLEFamilyAdapter,
    end_screen_text,
    movement_bindings,
)
from games.progression import ProgressionTracker, UnitRewardProgression

STEP_CAP = 100
# BALROG's config: envs.minihack_kwargs (skip_more is the auto-more wrapper).
BALROG_KWARGS: dict[str, Any] = {
    "character": "@",
    "max_episode_steps": STEP_CAP,
    "penalty_step": -0.01,
    "penalty_time": 0.0,
    "penalty_mode": "constant",
    "savedir": None,
    "save_ttyrec_every": 0,
    "autopickup": False,
}

MINIHACK_ACTION_DESCRIPTIONS: dict[str, str] = {
    **MOVE_DESCRIPTIONS,
    "up": "go up the stairs",
    "down": "go down the stairs",
    "wait": "rest one move, doing nothing",
    "more": "show more of the message",
    "apply": "apply (use) a tool",
    "close": "close an adjacent door",
    "open": "open an adjacent door",
    "eat": "eat something",
    "force": "force a lock",
    "kick": "kick a monster, a locked door or a chest",
    "loot": "loot a box on the floor",
    "pickup": "pick up things here, if there are any",
    "pray": "pray to the gods for help",
    "puton": "put on an accessory",
    "quaff": "quaff (drink) something",
    "search": "search for hidden doors and passages",
    "zap": "zap a wand",
}

GOAL_STAIRS = "Your goal is to explore the level and reach the stairs down."
GOAL_QUEST = (
    "Your goal is to explore the level, fight monsters, and navigate rooms and mazes to "
    "ultimately reach the stairs down."
)
GOAL_BOXOBAN = (
    "You are playing Boxoban, a box-pushing game inspired by Sokoban. Your goal is to push the "
    "boulders onto the fountains on the map. You can push a boulder by walking into it, as long as "
    "nothing is behind it."
)
GOAL_ANY = "Your goal is to get as far as possible in the game."

TASKS: tuple[tuple[str, str, str], ...] = (
    ("MiniHack-Boxoban-Hard-v0", "Boxoban (hard)", "Push the four boulders onto the four fountains."),
    ("MiniHack-Boxoban-Medium-v0", "Boxoban (medium)", "Push the four boulders onto the four fountains."),
    ("MiniHack-MazeWalk-9x9-v0", "Maze walk 9x9", "Find the way through a dark 9x9 maze to the stairs down."),
    ("MiniHack-MazeWalk-15x15-v0", "Maze walk 15x15", "Find the way through a dark 15x15 maze to the stairs down."),
    ("MiniHack-Corridor-R3-v0", "Corridors (3 rooms)", "Follow corridors through three rooms to the stairs down."),
    (
        "MiniHack-CorridorBattle-Dark-v0",
        "Corridor battle (dark)",
        "Fight a pack of rats in a dark corridor and reach the stairs down.",
    ),
    ("MiniHack-Quest-Easy-v0", "Quest (easy)", "Cross a lava river, fight monsters and reach the stairs down."),
    ("MiniHack-Quest-Medium-v0", "Quest (medium)", "Cross rooms and a maze, fight monsters and reach the stairs down."),
)
# Keys for the actions BALROG's MiniHack set has (each task offers a subset).
COMMAND_KEYS: tuple[tuple[str, str], ...] = (
    ("<", "up"),
    (">", "down"),
    (".", "wait"),
    (",", "pickup"),
    ("s", "search"),
    ("a", "apply"),
    ("o", "open"),
    ("c", "close"),
    ("e", "eat"),
    ("q", "quaff"),
    ("P", "puton"),
    ("z", "zap"),
    ("Enter", "more"),
)


def goal_text(task: str) -> str:
    lowered = task.lower()
    if "corridor" in lowered:
        return GOAL_STAIRS
    if "quest" in lowered:
        return GOAL_QUEST
    if "boxoban" in lowered:
        return GOAL_BOXOBAN
    return GOAL_ANY


def bindings_for(actions: frozenset[str]) -> list[KeyBinding]:
    bindings = movement_bindings(actions)
    return bindings + [KeyBinding(key, action, action) for key, action in COMMAND_KEYS if action in actions]


class _TaskKeyBindings:
    """``MiniHackAdapter.key_bindings()`` lists the keys of every MiniHack
    action; called on an adapter, only those of its task's action set (a key
    whose action a task lacks would play the default action instead)."""

    def __get__(self, adapter: MiniHackAdapter | None, owner: type) -> Callable[[], list[KeyBinding]]:
        if adapter is None:
            return lambda: bindings_for(frozenset(MINIHACK_ACTION_DESCRIPTIONS))
        return lambda: bindings_for(frozenset(adapter.action_space()))


def _env_class(task: str) -> Any:
    module_name, class_name = str(gymnasium.spec(task).entry_point).split(":")
    return getattr(importlib.import_module(module_name), class_name)


class MiniHackAdapter(NLEFamilyAdapter):
    env = "minihack"
    title = "MiniHack"
    blurb = "Small NetHack challenges: mazes, corridors, Sokoban boxes, quests."
    renderer = "terminal"
    default_action = "north"
    adapter_version = "1"
    action_descriptions: ClassVar[Mapping[str, str]] = MINIHACK_ACTION_DESCRIPTIONS

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        self.task_by_name(task)  # InvalidTask before any env work
        self._level_source = str((options or {}).get("level_source", "generated"))
        self._level: boxoban.ChosenLevel | None = None
        if task in boxoban.TASK_LEVEL_SETS:
            boxoban.level_set_dir(task, self._level_source)  # rejects an unknown source
            if self._level_source == "generated":
                boxoban.ensure_generated(task)
            self._level = boxoban.choose_level(task, self._level_source, 0)
        super().__init__(task, options)

    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return [
            TaskInfo(cls.env, task, title, description, STEP_CAP, episodes_per_task=5)
            for task, title, description in TASKS
        ]

    @classmethod
    def engine_version(cls) -> str:
        return (
            f"minihack-{minihack.__version__}+nle-{nle.__version__}"
            f"+boxoban-gen-{boxoban.GENERATOR_VERSION}+adapter-{cls.adapter_version}"
        )

    # Each task offers its own subset of actions (Boxoban: four moves), so the
    # keys depend on the task: see _TaskKeyBindings.
    key_bindings = _TaskKeyBindings()

    @classmethod
    def task_actions(cls, task: str) -> frozenset[str] | None:
        # Boxoban plays minihack's four moves (boxoban.make_boxoban_env); the
        # other tasks' sets come from their envs (None: every key shown).
        return frozenset(boxoban.MOVE_ACTIONS.values()) if task in boxoban.TASK_LEVEL_SETS else None

    @classmethod
    def prepare(cls, task: str, *, force: bool = False) -> str:
        cls.task_by_name(task)
        if task not in boxoban.TASK_LEVEL_SETS:
            return ""
        return boxoban.ensure_generated(task, force=force)

    def make_tracker(self) -> ProgressionTracker:
        return UnitRewardProgression()

    def _make_env(self) -> Any:
        kwargs = {**BALROG_KWARGS, "observation_keys": OBSERVATION_KEYS, "fix_moon_phase": True}
        if self._level is not None:
            return boxoban.make_boxoban_env(self._level.text, **kwargs)
        return _env_class(self.task)(**kwargs)

    def _before_reset(self, seed: int) -> JSONObject:
        if self._level is None:
            return {}
        self._level = boxoban.choose_level(self.task, self._level_source, seed)
        self._game.set_level(self._level.text)
        return self._level.facts()

    def _terminal_outcome(self, reward: float, info: Mapping[str, object]) -> RawOutcome:
        status = info.get("end_status")
        steps = self._game.StepStatus
        if status == steps.TASK_SUCCESSFUL:
            return RawOutcome(reward, terminated=True, won=True, detail="task solved")
        if status == steps.DEATH:
            detail = end_screen_text(self._require_obs()["tty_chars"]) or "died"
            return RawOutcome(reward, terminated=True, died=True, detail=detail)
        return RawOutcome(reward, terminated=True, detail=str(getattr(status, "name", status)).lower())

    def instructions(self) -> str:
        return f"""You are an agent playing MiniHack. These are the actions you can take, each with a short description:

{self._action_list_text()}.

In a moment I will present a history of actions and observations from the game.

Tip: there is no point in outputting the same action over and over if nothing changes.

{goal_text(self.task)}

PLAY!"""
