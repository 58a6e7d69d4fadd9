"""BALROG's babaisai env on our own engine.

Episode rules (the ``baba`` package as BALROG runs it):

- Actions ``idle, up, right, down, left``; an invalid answer runs ``idle``
  (BALROG's default: the first action).
- Cap: 100 steps (the package's ``max_steps``; BALROG loops that many).
- A win ends the episode with reward ``1 - 0.9 * steps / 100``, the steps
  counted since the current layout began; progression is 1 if the episode
  ended with reward > 0.
- When no ``you`` object is left to move (``X is you`` broken), BALROG's
  wrapper resets the env, which draws a *new* layout of the same task from
  the continuing random stream; the episode goes on within the same 100
  steps and the next observation starts with BALROG's notice. We do the
  same, from the episode's seeded stream, so it replays exactly.
- Touching a ``defeat`` object destroys that ``you`` object; destroying the
  last one ends the episode (died, reward -1, as the package's "lose").
  None of the 40 tasks has a ``defeat`` tile.

Option ``add_ruleset`` (default True, as BALROG's config): list the active
rules in the model's observation.
"""

from __future__ import annotations

import random
import struct
from typing import ClassVar

from games.babaisai import describe
from games.babaisai.engine import ACTIONS, Engine
from games.babaisai.levels import STEP_CAP, TASK_FAMILIES, Level, generate
from games.babaisai.render import render_png
from games.base import (
    Hud,
    IndexedActionsAdapter,
    KeyBinding,
    ModelObservation,
    RawAction,
    RawOutcome,
    TaskInfo,
    state_digest,
)
from games.jsontypes import JSONObject
from games.progression import PositiveRewardProgression, ProgressionTracker

ENGINE_VERSION = "1"  # bump with any change to engine, levels or planner that alters a replay
EPISODES_PER_TASK = 3
WIN_REWARD_DECAY = 0.9  # reward on a win: 1 - 0.9 * steps / max_steps

ACTION_MEANINGS: dict[str, str] = {
    "idle": "wait for one step",
    "up": "take one step up",
    "right": "take one step to the right",
    "down": "take one step down",
    "left": "take one step to the left",
}

_PART_TEXT: dict[str, tuple[str, str]] = {
    # name part: (title words, description clause)
    "two_room": ("Two rooms", "Two rooms are split by a column of walls that blocks while 'wall is stop' holds."),
    "goto_win": ("go to win", "A win rule is formed: walk onto the win object."),
    "make_win": ("make win", "The win rule is broken (its noun tile moved): push it back into line, then reach "
                 "the win object."),
    "break_stop": ("break stop", "The win object is in the other room: break 'wall is stop' to cross."),
    "maybe_break_stop": ("maybe break stop", "The win object may be in either room; 'wall is stop' holds."),
    "make_you": ("make you", "Make the object in the other room YOU by replacing 'baba' in 'baba is you'."),
    "make_wall_win": ("make wall win", "Break 'wall is stop' and form 'wall is win', then touch a wall."),
    "distr_obj": ("distractor object", "A distractor object stands on the map."),
    "distr_rule": ("distractor rule", "A loose tile names the distractor."),
    "distr_obj_rule": ("distractor object and rule", "A distractor object and a loose tile naming it."),
    "irrelevant_rule": ("irrelevant rule", "A loose tile names an object that is not on the map."),
    "distr_win_rule": ("distractor win rule", "A second win rule names an object that is not on the map."),
}  # fmt: skip


def _task_info(task: str) -> TaskInfo:
    parts = task.removeprefix("env/").replace("-", " ").split()
    title = ", ".join(_PART_TEXT[part][0] for part in parts)
    description = " ".join(_PART_TEXT[part][1] for part in parts)
    return TaskInfo("babaisai", task, title[:1].upper() + title[1:], description, STEP_CAP, EPISODES_PER_TASK)


INSTRUCTIONS = """\
Baba Is You is a puzzle game where you can change the rules of each level.

The level is a grid of objects (baba, wall, ball, key, door) and word tiles. \
Three word tiles in a row, left to right or top to bottom, form a rule \
"[object] is [property]", e.g. "baba is you". The properties are:
- you: you move those objects with your actions;
- win: a YOU object that moves onto a WIN object wins the level;
- stop: nothing can move into a STOP object;
- push: a PUSH object is shoved ahead when something moves into it;
- defeat: a YOU object that moves onto a DEFEAT object is destroyed.
"[object] is [object]" turns every object of the first kind into the second. \
Word tiles can always be pushed, so rules can be broken and formed by pushing \
them; rules are re-read after every move. Objects without properties can be \
walked over. If no YOU object is left, the level resets to a new layout.

Each turn you get the active rules and where each object and rule tile stands \
relative to you. Actions:
{actions}.

Tips: look at every tile on the map; a goal that is out of reach often needs a \
rule broken (e.g. "wall is stop") or formed (e.g. "key is win"), and sometimes \
the solution is to become another object or to make something else the win \
condition. You have {cap} steps; answer with one action."""


class BabaIsAIHud(Hud):
    rules: list[str]
    layout: int  # 1, then +1 for each restart
    layout_steps: int


class BabaIsAIAdapter(IndexedActionsAdapter):
    env = "babaisai"
    title = "Baba Is AI"
    blurb = "Rule puzzles: push word blocks to change the rules and reach the win."
    renderer = "grid"
    default_action = "idle"
    actions = ACTIONS
    adapter_version = "1"

    _task_list: ClassVar[list[TaskInfo]] = [_task_info(task) for task in TASK_FAMILIES]

    # ----- catalogue -------------------------------------------------------
    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return list(cls._task_list)

    @classmethod
    def key_bindings(cls) -> list[KeyBinding]:
        return [
            KeyBinding("ArrowUp", "up", "Up"),
            KeyBinding("ArrowRight", "right", "Right"),
            KeyBinding("ArrowDown", "down", "Down"),
            KeyBinding("ArrowLeft", "left", "Left"),
            KeyBinding(" ", "idle", "Space: wait"),
        ]

    @classmethod
    def engine_version(cls) -> str:
        return f"babaisai-engine-{ENGINE_VERSION}+adapter-{cls.adapter_version}"

    # ----- lifecycle -------------------------------------------------------------
    def make_tracker(self) -> ProgressionTracker:
        return PositiveRewardProgression()

    def _reset(self, seed: int) -> JSONObject:
        # One stream per episode: the first layout and every layout after a
        # broken YOU rule come from it, so the seed alone fixes them all.
        self._rng = random.Random(seed)
        self._layouts = 0
        self._start_layout()
        level = self._level
        return {
            "seed": seed,
            "level_source": f"generated: games.babaisai.levels, engine {ENGINE_VERSION}",
            "width": level.engine.width,
            "height": level.engine.height,
            "target_plan": level.target_plan,
            "solution_steps": len(level.solution),
            "layout_draws": level.draws,
            "level_digest": state_digest(level.engine.encode()),
        }

    def _start_layout(self) -> None:
        self._level: Level = generate(self.task, self._rng)
        self.engine: Engine = self._level.engine.copy()
        self._layouts += 1
        self._layout_steps = 0
        self._notice = ""

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        action = self._check_raw(raw)
        self._notice = ""
        self._layout_steps += 1
        event = self.engine.step(action)
        if event.won:
            reward = 1.0 - WIN_REWARD_DECAY * self._layout_steps / STEP_CAP
            return RawOutcome(reward, terminated=True, won=True, detail="a YOU object reached a WIN object")
        if event.died:
            return RawOutcome(-1.0, terminated=True, died=True, detail="the last YOU object touched DEFEAT")
        if not self.engine.you_cells():
            self._start_layout()
            self._notice = describe.RESTART_NOTICE
        return RawOutcome(0.0)

    # ----- views -------------------------------------------------------------------
    def _with_rules(self) -> bool:
        return bool(self.options.get("add_ruleset", True))  # BALROG's babaisai_kwargs.add_ruleset

    def observation(self) -> ModelObservation:
        text = describe.observation_text(self.engine, notice=self._notice, with_rules=self._with_rules())
        return ModelObservation(text, "")

    def frame(self) -> describe.BabaIsAIFrame:
        return describe.frame(self.engine, notice=self._notice, layout=self._layouts)

    def render_png(self) -> bytes:
        return render_png(self.engine)

    def state_bytes(self) -> bytes:
        header = struct.pack(">HBB", self._layouts, bool(self._notice), self._with_rules())
        return header + self.engine.encode()

    def instructions(self) -> str:
        actions = ",\n".join(f"{name}: {meaning}" for name, meaning in ACTION_MEANINGS.items())
        return INSTRUCTIONS.format(actions=actions, cap=STEP_CAP)

    def hud(self) -> BabaIsAIHud:
        return {
            **super().hud(),
            "rules": [rule.text for rule in self.engine.rules],
            "layout": self._layouts,
            "layout_steps": self._layout_steps,
        }

    # ----- for bots and tests --------------------------------------------------------
    def solution(self) -> list[str]:
        """The current layout's verified winning actions, valid from its start."""
        return [ACTIONS[action] for action in self._level.solution]
