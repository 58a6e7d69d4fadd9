"""BALROG's BabyAI-MixedTrainLocal-v0, one task family per level instance.

``BabyAI-MixedTrainLocal-v0`` exists only in forks: flowersteam's babyai-text
(``babyai_text/levels/mixed_levels.py``, Grounding_LLMs_with_online_RL) and the
Minigrid fork BALROG installs (BartekCupial/Minigrid). The fork draws the family
in ``__init__`` from an *unseeded* RNG and BALROG re-creates the env until the
family matches the task name. Here the family is fixed by the task name and
everything else is drawn from ``reset(seed=...)``.

Built from upstream minigrid 3.x BabyAI classes
(``minigrid.envs.babyai.core``): ``LevelGen`` / ``RoomGridLevel`` (grid,
rooms, rejection sampling, verifier plumbing, ``max_steps``), ``RoomGrid``
helpers (``place_agent``, ``add_distractors``, ``add_door``, ``add_object``,
``connect_all``) and the verifier instructions ``GoToInstr``, ``PickupInstr``,
``OpenInstr``, ``PutNextInstr``, ``BeforeInstr`` / ``AfterInstr`` with
``ObjDesc(type, color)`` (no locations).

Parameters, as the fork's ``Level_MixedTrainLocal`` and BALROG's config use them:

============================  =========================================================
family (BALROG task suffix)   layout and instruction
============================  =========================================================
goto                          one 8x8 room; ``num_dists + 1`` random objects;
                              ``GoToInstr(ObjDesc(type, color))`` of one of them
pickup                        one 8x8 room; ``num_dists + 1`` objects;
                              ``PickupInstr(ObjDesc(type, color))``
open                          two 8x8 rooms side by side (15x8 grid); the door between
                              them is locked, coloured yellow/green/blue/purple; its key
                              lies in the other room; ``num_dists`` objects in the
                              agent's room; ``OpenInstr(ObjDesc("door", colour or None))``
putnext                       one 8x8 room; ``num_dists + 2`` objects;
                              ``PutNextInstr(ObjDesc(a), ObjDesc(b))``
pick_up_seq_go_to             one 8x8 room; ``num_dists + 2`` objects;
                              ``BeforeInstr(PickupInstr(a), GoToInstr(b))`` ("pick up
                              a, then go to b") or ``AfterInstr(GoToInstr(b),
                              PickupInstr(a))`` ("go to b after you pick up a")
============================  =========================================================

Common to all families: ``room_size=8``, ``locations=False``,
``unblocking=False``, ``implicit_unlock=False``; a layout is redrawn until every
object is reachable and the mission avoids the held-out pairs (yellow box, red
key, red door, green ball, grey door). BALROG's config passes ``num_dists=0``
(``envs.babyai_kwargs``), so goto/pickup have one object and putnext/seq two.
``max_steps`` is RoomGridLevel's default: ``navs x room_size^2 x rooms`` = 64
for goto/pickup, 128 for open, putnext and pick_up_seq_go_to.

The generator follows the fork's draw order (including its redundant draw of
the single action kind). Whether a seed yields exactly the fork's layout also
depends on the fork's base helpers drawing as upstream's do; that was not
checked (the fork is not installed here). BALROG's own seeds are random, so
only the distribution of layouts matters for comparable scores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, SupportsFloat, TypedDict

import numpy as np
from minigrid.core.roomgrid import RoomGrid
from minigrid.core.world_object import WorldObj
from minigrid.envs.babyai.core.levelgen import LevelGen
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling
from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    BeforeInstr,
    GoToInstr,
    Instr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)
from numpy.typing import NDArray

# BALROG task suffix -> the fork's action kind name.
FAMILIES: dict[str, str] = {
    "goto": "goto",
    "pickup": "pickup",
    "open": "open",
    "putnext": "putnext",
    "pick_up_seq_go_to": "pick up seq go to",
}
# Object/colour pairs the fork holds out of MixedTrainLocal missions.
HELD_OUT_PAIRS = ("yellow box", "red key", "red door", "green ball", "grey door")
# Locked-door colours of the open family (red and grey are held out).
OPEN_DOOR_COLORS = ("yellow", "green", "blue", "purple")
ROOM_SIZE = 8
BALROG_NUM_DISTS = 0


class Observation(TypedDict):
    """minigrid's observation of the agent's 7x7 view."""

    image: NDArray[np.uint8]  # (7, 7, 3): object, colour and state codes
    direction: int
    mission: str


class MixedTrainLocalLevel(LevelGen):
    """One task family of BabyAI-MixedTrainLocal-v0 (see the module docstring)."""

    def __init__(
        self,
        family: str,
        room_size: int = ROOM_SIZE,
        num_dists: int = BALROG_NUM_DISTS,
        max_steps: int | None = None,
        **kwargs: Any,
    ) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown MixedTrainLocal family {family!r}")
        self.family = family
        super().__init__(
            room_size=room_size,
            num_rows=1,
            num_cols=2 if family == "open" else 1,
            num_dists=num_dists,
            locations=False,
            unblocking=False,
            implicit_unlock=False,
            action_kinds=[FAMILIES[family]],
            instr_kinds=["action", "seq1"],
            max_steps=max_steps,
            **kwargs,
        )  # type: ignore[no-untyped-call]  # minigrid's LevelGen.__init__ is unannotated

    if TYPE_CHECKING:
        # RoomGridLevel overrides or adds these without annotations: declared here with the types
        # they have, for mypy only. MiniGridEnv annotates reset and step with gymnasium's
        # ObsType/ActType, type variables no class binds, so no concrete signature matches them.
        def reset(  # type: ignore[override]
            self, *, seed: int | None = None, options: dict[str, Any] | None = None
        ) -> tuple[Observation, dict[str, Any]]: ...
        def step(  # type: ignore[override]
            self, action: int
        ) -> tuple[Observation, SupportsFloat, bool, bool, dict[str, Any]]: ...
        def close(self) -> None: ...
        def get_pov_render(self, tile_size: int) -> NDArray[np.uint8]: ...
        def validate_instrs(self, instr: Instr) -> None: ...
        def check_objs_reachable(self, raise_exc: bool = True) -> bool: ...

    # ----- generation ------------------------------------------------------
    def _gen_grid(self, width: int, height: int) -> None:
        # RoomGridLevel._gen_grid with the same retries, minus its prints
        # ("Sampling rejected: ..."), which would pollute stdout.
        while True:
            try:
                RoomGrid._gen_grid(self, width, height)
                self.gen_mission()
                self.validate_instrs(self.instrs)
            except (RecursionError, RejectSampling):
                continue
            break
        self.surface = self.instrs.surface(self)
        self.mission = self.surface

    def gen_mission(self) -> None:
        # The fork draws the action kind again from its one-element list; the
        # draw is kept so the RNG stream follows the fork's.
        self._rand_elem(self.action_kinds)
        generate = self._generators()[self.family]
        while True:
            self._regen_grid()
            instrs, reachable = generate()
            self.instrs = instrs
            if reachable and not self._mentions_held_out_pair():
                return

    def _generators(self) -> dict[str, Callable[[], tuple[Instr, bool]]]:
        return {
            "goto": self._gen_goto,
            "pickup": self._gen_pickup,
            "open": self._gen_open,
            "putnext": self._gen_putnext,
            "pick_up_seq_go_to": self._gen_pickup_seq_goto,
        }

    def _gen_goto(self) -> tuple[Instr, bool]:
        objs, reachable = self._place_agent_then_objects(self.num_dists + 1)
        target = self._rand_elem(objs)
        return GoToInstr(ObjDesc(target.type, target.color)), reachable

    def _gen_pickup(self) -> tuple[Instr, bool]:
        objs, reachable = self._place_agent_then_objects(self.num_dists + 1)
        target = self._pick_not_door(objs)
        return PickupInstr(ObjDesc(target.type, target.color)), reachable

    def _gen_open(self) -> tuple[Instr, bool]:
        door_color = self._rand_elem(OPEN_DOOR_COLORS)
        self._add_locked_room(door_color)
        self.connect_all()
        for j in range(self.num_rows):
            for i in range(self.num_cols):
                if self.get_room(i, j) is not self.locked_room:
                    self.add_distractors(i, j, num_distractors=self.num_dists, all_unique=False)
        # Objects first, then the agent, outside the locked room.
        while True:
            self.place_agent()
            if self.room_from_pos(*self.agent_pos) is not self.locked_room:
                break
        reachable = self.check_objs_reachable(raise_exc=False)
        named_color = self._rand_elem([None, door_color])
        return OpenInstr(ObjDesc("door", named_color)), reachable

    def _gen_putnext(self) -> tuple[Instr, bool]:
        objs, reachable = self._place_agent_then_objects(self.num_dists + 2)
        moved = self._pick_not_door(objs)
        fixed = self._pick_other(objs, moved)
        instr = PutNextInstr(ObjDesc(moved.type, moved.color), ObjDesc(fixed.type, fixed.color))
        return instr, reachable

    def _gen_pickup_seq_goto(self) -> tuple[Instr, bool]:
        objs, reachable = self._place_agent_then_objects(self.num_dists + 2)
        picked = self._pick_not_door(objs)
        pickup = PickupInstr(ObjDesc(picked.type, picked.color))
        visited = self._pick_other(objs, picked)
        goto = GoToInstr(ObjDesc(visited.type, visited.color))
        if self._rand_elem(["Before", "After"]) == "Before":
            return BeforeInstr(pickup, goto), reachable
        return AfterInstr(goto, pickup), reachable

    # ----- helpers -----------------------------------------------------------
    def _place_agent_then_objects(self, count: int) -> tuple[list[WorldObj], bool]:
        self.place_agent()
        objs = self.add_distractors(num_distractors=count, all_unique=False)
        return objs, self.check_objs_reachable(raise_exc=False)

    def _pick_not_door(self, objs: list[WorldObj]) -> WorldObj:
        obj = self._rand_elem(objs)
        while obj.type == "door":
            obj = self._rand_elem(objs)
        return obj

    def _pick_other(self, objs: list[WorldObj], first: WorldObj) -> WorldObj:
        """The second object of a two-object mission. It may share the first
        one's description only when another object also matches it."""
        other = self._rand_elem(objs)
        if (other.type, other.color) == (first.type, first.color):
            matching, _ = ObjDesc(first.type, first.color).find_matching_objs(self)
            if len(matching) < 2:
                while (other.type, other.color) == (first.type, first.color):
                    other = self._rand_elem(objs)
        return other

    def _add_locked_room(self, color: str) -> None:
        """The fork's ``add_locked_room(color)``: a locked door of ``color`` on
        an inner wall of a random room, and its key in another room."""
        while True:
            i = self._rand_int(0, self.num_cols)
            j = self._rand_int(0, self.num_rows)
            door_idx = self._rand_int(0, 4)
            self.locked_room = self.get_room(i, j)
            if self.locked_room.neighbors[door_idx] is None:
                continue
            door, _ = self.add_door(i, j, door_idx, color=color, locked=True)
            break
        while True:
            i = self._rand_int(0, self.num_cols)
            j = self._rand_int(0, self.num_rows)
            if self.get_room(i, j) is self.locked_room:
                continue
            self.add_object(i, j, "key", door.color)
            break

    def _mentions_held_out_pair(self) -> bool:
        surface = self.instrs.surface(self)
        return any(pair in surface for pair in HELD_OUT_PAIRS)

    def _regen_grid(self) -> None:
        """Clear the grid and the rooms, redraw the walls and door positions and
        put the agent back in the middle (the fork's ``_regen_grid``)."""
        self.grid.grid = [None for _ in range(self.width * self.height)]
        for j in range(self.num_rows):
            for i in range(self.num_cols):
                room = self.get_room(i, j)
                room.doors = [None] * 4
                room.door_pos = [None] * 4
                room.neighbors = [None] * 4
                room.locked = False
                room.objs = []
                self.grid.wall_rect(*room.top, *room.size)
        for j in range(self.num_rows):
            for i in range(self.num_cols):
                self._link_neighbors(i, j)
        self.agent_pos = (
            (self.num_cols // 2) * (self.room_size - 1) + (self.room_size // 2),
            (self.num_rows // 2) * (self.room_size - 1) + (self.room_size // 2),
        )
        self.agent_dir = 0

    def _link_neighbors(self, i: int, j: int) -> None:
        # Door positions, in the order right, down, left, up (RoomGrid's order).
        room = self.get_room(i, j)
        x_l, y_l = room.top[0] + 1, room.top[1] + 1
        x_m, y_m = room.top[0] + room.size[0] - 1, room.top[1] + room.size[1] - 1
        if i < self.num_cols - 1:
            room.neighbors[0] = self.get_room(i + 1, j)
            room.door_pos[0] = (x_m, self._rand_int(y_l, y_m))
        if j < self.num_rows - 1:
            room.neighbors[1] = self.get_room(i, j + 1)
            room.door_pos[1] = (self._rand_int(x_l, x_m), y_m)
        if i > 0:
            left = self.get_room(i - 1, j)
            room.neighbors[2] = left
            room.door_pos[2] = left.door_pos[0]
        if j > 0:
            above = self.get_room(i, j - 1)
            room.neighbors[3] = above
            room.door_pos[3] = above.door_pos[1]
