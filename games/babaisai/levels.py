"""Level generators for BALROG's 40 Baba Is AI tasks.

Layouts follow the generators of the ``baba`` package (its ``envs.py``):
the same rule positions, placement areas and colour/kind draws, taken from a
local ``random.Random`` instead of numpy. Family flags, by task-name part:

- ``goto_win``: ``X is win`` is formed; walk onto the X object.
- ``make_win``: the X tile of ``X is win`` was displaced; push it back, then go.
- ``distr_obj``: a second object on the map (never the win object's kind).
- ``distr_rule``: a loose tile naming the distractor object.
- ``irrelevant_rule``: a loose tile naming a kind that is not on the map.
- ``distr_win_rule``: a formed ``Z is win`` for a kind Z not on the map.
- ``two_room``: a 13x9 map split by a column of walls, crossable only while
  ``wall is stop`` is broken. Plain ``two_room-goto_win``/``-make_win``
  start with that rule already broken (a tile displaced) and the target on
  the left; ``break_stop`` starts with it formed and the target on the
  right; ``maybe_break_stop`` with it formed and the target anywhere.
- ``make_you``: the player must build ``Y is you`` (Y the object in the other
  room) in place of ``baba is you``, then reach the win object as Y.
- ``make_wall_win``: the win rule's noun is stuck in an edge cell; the way out
  is to break ``wall is stop`` and push ``wall`` into ``wall is win``.

Every layout comes with a solution found by ``planner``, executed on the
engine and required to win within the step cap; a layout for which the
planner finds none is redrawn from the same generator (see ``generate``).
The baba package does not check solvability, so its layouts and ours differ
in this (rare) case, in the RNG stream, and in that ours never stack two
things on one cell when a level is built.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from games.babaisai import planner
from games.babaisai.engine import DOWN, WIN, Engine, Rule, object_code, word_code
from games.babaisai.planner import PlanStep

STEP_CAP = 100  # the baba package's max_steps, which BALROG uses as the episode cap
MAX_DRAWS = 50  # layouts tried before giving up (a bug, not bad luck: see the sweep test)

OBJECT_KINDS: tuple[str, ...] = ("ball", "key", "door")
OBJECT_COLOURS: tuple[str, ...] = ("red", "blue", "green")
WALL_COLOUR = "grey"
BABA_COLOUR = "white"

# Single room: where the loose distractor tile may stand; from the baba
# package, duplicates included (they weight the draw).
ONE_ROOM_DISTRACTOR_CELLS: tuple[tuple[int, int], ...] = (
    (4, 6), (5, 6), (6, 6),
    (4, 1), (5, 1), (6, 1),
    (6, 1), (6, 2), (6, 3), (6, 4), (6, 5), (6, 6),
)  # fmt: skip


@dataclass(frozen=True)
class Family:
    layout: str  # "one_room", "two_room", "make_you" or "make_wall_win"
    break_win: bool = False  # the win rule starts broken
    stop_broken: bool = False  # two_room: ``wall is stop`` starts broken
    target_area: str = "left_anywhere"  # two_room: where the objects stand
    distractor_obj: bool = True
    distractor_rule: bool = True
    irrelevant_rule: bool = False
    distractor_win_rule: bool = False


def _one(break_win: bool, obj: bool = True, rule: bool = True, irrelevant: bool = False) -> Family:
    return Family("one_room", break_win, distractor_obj=obj, distractor_rule=rule, irrelevant_rule=irrelevant)


def _two(
    area: str,
    *,
    stop_broken: bool,
    break_win: bool = False,
    obj: bool = True,
    rule: bool = True,
    irrelevant: bool = False,
    win_rule: bool = False,
) -> Family:
    return Family("two_room", break_win, stop_broken, area, obj, rule, irrelevant, win_rule)


# BALROG's babaisai task list (balrog/config/config.yaml), in its order.
TASK_FAMILIES: dict[str, Family] = {
    "env/make_win-distr_obj_rule": _one(True),
    "env/goto_win-distr_obj_rule": _one(False),
    "env/goto_win": _one(False, obj=False, rule=False),
    "env/goto_win-distr_obj": _one(False, rule=False),
    "env/goto_win-distr_rule": _one(False, obj=False),
    "env/goto_win-distr_obj-irrelevant_rule": _one(False, irrelevant=True),
    "env/make_win-distr_obj": _one(True, rule=False),
    "env/make_win-distr_rule": _one(True, obj=False),
    "env/make_win": _one(True, obj=False, rule=False),
    "env/make_win-distr_obj-irrelevant_rule": _one(True, irrelevant=True),
    "env/two_room-goto_win": _two("left_anywhere", stop_broken=True, obj=False, rule=False),
    "env/two_room-goto_win-distr_obj_rule": _two("left_anywhere", stop_broken=True),
    "env/two_room-goto_win-distr_rule": _two("left_anywhere", stop_broken=True, obj=False),
    "env/two_room-goto_win-distr_obj": _two("left_anywhere", stop_broken=True, rule=False),
    "env/two_room-goto_win-distr_obj-irrelevant_rule": _two("left_anywhere", stop_broken=True, irrelevant=True),
    "env/two_room-goto_win-distr_win_rule": _two("left_anywhere", stop_broken=True, win_rule=True),
    "env/two_room-break_stop-goto_win-distr_obj_rule": _two("right_anywhere", stop_broken=False),
    "env/two_room-break_stop-goto_win-distr_obj": _two("right_anywhere", stop_broken=False, rule=False),
    "env/two_room-break_stop-goto_win-distr_rule": _two("right_anywhere", stop_broken=False, obj=False),
    "env/two_room-break_stop-goto_win-distr_obj-irrelevant_rule": _two(
        "right_anywhere", stop_broken=False, irrelevant=True
    ),
    "env/two_room-break_stop-goto_win": _two("right_anywhere", stop_broken=False, obj=False, rule=False),
    "env/two_room-maybe_break_stop-goto_win-distr_obj_rule": _two("anywhere", stop_broken=False),
    "env/two_room-maybe_break_stop-goto_win": _two("anywhere", stop_broken=False, obj=False, rule=False),
    "env/two_room-maybe_break_stop-goto_win-distr_obj": _two("anywhere", stop_broken=False, rule=False),
    "env/two_room-maybe_break_stop-goto_win-distr_rule": _two("anywhere", stop_broken=False, obj=False),
    "env/two_room-maybe_break_stop-goto_win-distr_obj-irrelevant_rule": _two(
        "anywhere", stop_broken=False, irrelevant=True
    ),
    "env/two_room-make_win-distr_obj_rule": _two("left_anywhere", stop_broken=True, break_win=True),
    "env/two_room-make_win-distr_rule": _two("left_anywhere", stop_broken=True, break_win=True, obj=False),
    "env/two_room-make_win": _two("left_anywhere", stop_broken=True, break_win=True, obj=False, rule=False),
    "env/two_room-make_win-distr_obj-irrelevant_rule": _two(
        "left_anywhere", stop_broken=True, break_win=True, irrelevant=True
    ),
    "env/two_room-make_win-distr_obj": _two("left_anywhere", stop_broken=True, break_win=True, rule=False),
    "env/two_room-make_win-distr_win_rule": _two("left_anywhere", stop_broken=True, break_win=True, win_rule=True),
    "env/two_room-break_stop-make_win-distr_obj_rule": _two("right_anywhere", stop_broken=False, break_win=True),
    "env/two_room-break_stop-make_win-distr_rule": _two("right_anywhere", stop_broken=False, break_win=True, obj=False),
    "env/two_room-break_stop-make_win": _two(
        "right_anywhere", stop_broken=False, break_win=True, obj=False, rule=False
    ),
    "env/two_room-break_stop-make_win-distr_obj-irrelevant_rule": _two(
        "right_anywhere", stop_broken=False, break_win=True, irrelevant=True
    ),
    "env/two_room-break_stop-make_win-distr_obj": _two("right_anywhere", stop_broken=False, break_win=True, rule=False),
    "env/two_room-make_you": Family("make_you"),
    "env/two_room-make_you-make_win": Family("make_you", break_win=True),
    "env/two_room-make_wall_win": Family("make_wall_win", irrelevant_rule=True),
}


@dataclass(frozen=True)
class Level:
    engine: Engine  # the start state (rules parsed)
    solution: tuple[int, ...]  # engine actions that win from the start state
    target_plan: str  # the baba package's summary, e.g. "make[key is win], goto[key]"
    draws: int  # layouts drawn to get this one (1 unless the planner rejected some)


class LevelGenerationError(RuntimeError):
    pass


@dataclass
class _Draft:
    engine: Engine
    steps: list[PlanStep]
    target_plan: str


def generate(task: str, rng: random.Random) -> Level:
    """Draw layouts of ``task`` from ``rng`` until one has a solution within the step cap."""
    family = TASK_FAMILIES[task]
    build = _BUILDERS[family.layout]
    for draw in range(1, MAX_DRAWS + 1):
        draft = build(family, rng)
        draft.engine.refresh_rules()
        plan = planner.solve(draft.engine, draft.steps)
        if plan is not None and len(plan.actions) <= STEP_CAP:
            return Level(draft.engine, tuple(plan.actions), draft.target_plan, draw)
    raise LevelGenerationError(f"no solvable layout of {task} in {MAX_DRAWS} draws")


# ----- building blocks ------------------------------------------------------------
class _Board:
    """An engine under construction plus the draws that place things on it."""

    def __init__(self, width: int, height: int, rng: random.Random) -> None:
        self.engine = Engine.walled(width, height)
        self.rng = rng
        self.reserved: set[int] = set()  # cells kept free for things placed later

    def at(self, x: int, y: int) -> int:
        return self.engine.index(x, y)

    def area(self, left: int, top: int, width: int, height: int) -> list[int]:
        """Cells of a rectangle, clipped to the grid as the baba package clips it."""
        engine = self.engine
        return [
            engine.index(x, y)
            for y in range(top, min(top + height, engine.height))
            for x in range(left, min(left + width, engine.width))
        ]

    def free_cell(self, cells: list[int]) -> int:
        """A uniformly drawn empty, unreserved cell among ``cells``."""
        options = [i for i in cells if not self.engine.cells[i] and i not in self.reserved]
        return self.rng.choice(options)

    def place(self, code: int, cells: list[int]) -> int:
        index = self.free_cell(cells)
        self.engine.cells[index].append(code)
        return index

    def put(self, code: int, index: int) -> None:
        self.engine.cells[index].append(code)

    def put_rule(self, subject: str, target: str, x: int, y: int) -> list[int]:
        cells = [self.at(x + i, y) for i in range(3)]
        for index, word in zip(cells, (subject, "is", target), strict=True):
            self.put(word_code(word), index)
        return cells

    def displace(self, index: int, cells: list[int]) -> int:
        """Move the tile at ``index`` to a drawn free cell: a rule broken."""
        target = self.free_cell(cells)
        self.engine.move_top(index, target)
        return target

    def wall_column(self, x: int) -> None:
        for y in range(1, self.engine.height - 1):
            self.put(object_code("wall", WALL_COLOUR), self.at(x, y))


def _draw_objects(rng: random.Random) -> list[tuple[str, str]]:
    """Three distinct kinds with colours drawn independently: win, distractor, irrelevant."""
    kinds = rng.sample(OBJECT_KINDS, 3)
    return [(kind, rng.choice(OBJECT_COLOURS)) for kind in kinds]


def _win_cells(engine: Engine) -> set[int]:
    """Cells a player can step onto and so share with a win object."""
    return {
        i
        for i, stack in enumerate(engine.cells)
        if stack and engine.enterable(i) and any(engine.flags(code) & WIN for code in stack)
    }


def _word_cells(word: str) -> Callable[[Engine], set[int]]:
    code = word_code(word)

    def cells(engine: Engine) -> set[int]:
        return set(engine.find(code))

    return cells


WALL_IS_STOP = Rule("wall", "stop")


# ----- single room (the baba package's MakeWinEnv), 8x8 -------------------------------
def _one_room(family: Family, rng: random.Random) -> _Draft:
    board = _Board(8, 8, rng)
    (win_kind, win_colour), (other_kind, other_colour), (spare_kind, _) = _draw_objects(rng)
    board.put_rule("baba", "you", 1, 6)
    win_rule = board.put_rule(win_kind, "win", 1, 1)
    if family.break_win:
        board.displace(win_rule[0], board.area(2, 2, 4, 4))
    if family.distractor_rule:
        x, y = rng.choice(ONE_ROOM_DISTRACTOR_CELLS)
        board.put(word_code(spare_kind if family.irrelevant_rule else other_kind), board.at(x, y))
    anywhere = board.area(1, 2, 8, 8)
    board.place(object_code("baba", BABA_COLOUR), anywhere)
    board.place(object_code(win_kind, win_colour), anywhere)
    if family.distractor_obj:
        board.place(object_code(other_kind, other_colour), anywhere)
    steps: list[PlanStep] = []
    if family.break_win:
        steps.append(planner.push_word(win_kind, win_rule[0]))
    steps.append(planner.walk_onto(_win_cells))
    plan = f"make[{win_kind} is win], goto[{win_kind}]" if family.break_win else f"goto[{win_kind}]"
    return _Draft(board.engine, steps, plan)


# ----- two rooms (the baba package's TwoRoomEnv), 13x9 ----------------------------------
def _two_room_areas(board: _Board, pushable_width: int, right_pushable_left: int) -> dict[str, list[int]]:
    """The baba package's placement areas for a 13x9 two-room map."""
    width, height = board.engine.width, board.engine.height
    half = width // 2
    return {
        "left_pushable": board.area(2, 3, pushable_width, height - 6),
        "right_pushable": board.area(right_pushable_left, 3, pushable_width, height - 6),
        "left_anywhere": board.area(1, 1, half - 2, height - 2),
        # from y = 2: row 1 holds the win rule
        "right_anywhere": board.area(half + 1, 2, half - 2, height - 2),
        "anywhere": board.area(1, 2, width - 2, height - 2),
    }


def _edge_cells(board: _Board) -> list[int]:
    """Cells along the right room's far edges, from where a tile can never be
    pushed into a rule with the fixed tiles (the baba package's right_unpushable)."""
    width, height = board.engine.width, board.engine.height
    column = [board.at(width - 2, 2 + i) for i in range(height - 4)]
    row = [board.at(width - 2 - i, height - 2) for i in range(width // 2 - 2)]
    return column + row


def _two_room(family: Family, rng: random.Random) -> _Draft:
    board = _Board(13, 9, rng)
    width, height = 13, 9
    board.wall_column(width // 2)
    areas = _two_room_areas(board, width // 2 - 2, width // 2 + 1)
    (win_kind, win_colour), (other_kind, other_colour), (spare_kind, _) = _draw_objects(rng)
    board.put_rule("baba", "you", 1, height - 2)
    stop_rule = board.put_rule("wall", "stop", 1, 2)
    win_rule = board.put_rule(win_kind, "win", width - 4, 1)
    if family.distractor_win_rule:
        board.reserved.update(board.at(width - 4 + i, 4) for i in range(3))
    if family.distractor_rule:
        if family.irrelevant_rule:
            board.place(word_code(spare_kind), areas["right_pushable"])
        elif family.distractor_obj:
            board.place(word_code(other_kind), _edge_cells(board))
        else:
            board.place(word_code(other_kind), areas["right_pushable"])
    if family.stop_broken:
        board.displace(stop_rule[rng.choice((1, 2))], areas["left_pushable"])
    if family.break_win:
        board.displace(win_rule[0], areas["right_pushable"])
    board.place(object_code("baba", BABA_COLOUR), areas["left_pushable"])
    win_at = board.place(object_code(win_kind, win_colour), areas[family.target_area])
    if family.distractor_obj:
        board.place(object_code(other_kind, other_colour), areas[family.target_area])
    if family.distractor_win_rule:
        board.reserved.clear()
        board.put_rule(spare_kind, "win", width - 4, 4)

    steps: list[PlanStep] = []
    if family.break_win:
        steps.append(planner.break_rule_to_reach(WALL_IS_STOP, _word_cells(win_kind)))
        steps.append(planner.push_word(win_kind, win_rule[0]))
    steps.append(planner.break_rule_to_reach(WALL_IS_STOP, _win_cells))
    steps.append(planner.walk_onto(_win_cells))
    return _Draft(board.engine, steps, _two_room_target_plan(family, win_kind, board.engine.xy(win_at)[0]))


def _two_room_target_plan(family: Family, win_kind: str, win_x: int) -> str:
    """The baba package's target_plan for TwoRoomEnv."""
    goto = f"goto[{win_kind}]"
    breaking = "" if family.stop_broken else "break[wall is stop], "
    if family.break_win:
        return f"{breaking}make[{win_kind} is win], {goto}"
    if win_x < 13 // 2:
        return goto
    return f"{breaking}{goto}"


# ----- two rooms, make you (the baba package's TwoRoomMakeYouEnv) --------------------------
def _make_you(family: Family, rng: random.Random) -> _Draft:
    board = _Board(13, 9, rng)
    width, height = 13, 9
    board.wall_column(width // 2)
    areas = _two_room_areas(board, width // 2 - 3, width // 2 + 2)
    (win_kind, win_colour), (you_kind, you_colour), _ = _draw_objects(rng)
    you_rule = board.put_rule("baba", "you", 1, height - 3)
    board.put_rule("wall", "stop", 1, 1)
    win_rule = board.put_rule(win_kind, "win", width - 4, 1)
    board.place(word_code(you_kind), areas["left_pushable"])
    if family.break_win:
        board.displace(win_rule[0], areas["right_pushable"])
    board.place(object_code("baba", BABA_COLOUR), areas["left_pushable"])
    board.place(object_code(win_kind, win_colour), areas["right_anywhere"])
    board.place(object_code(you_kind, you_colour), areas["right_anywhere"])

    # The new noun replaces "baba" in one push from above, which shoves "baba"
    # down and out: "baba is you" never breaks before "Y is you" holds.
    above = you_rule[0] - width
    steps: list[PlanStep] = [
        planner.push_word(you_kind, above),
        planner.walk_onto(lambda _engine: {above - width}),
        planner.act([DOWN]),
        planner.require(lambda engine: engine.has_rule(you_kind, "you")),
    ]
    if family.break_win:
        steps.append(planner.push_word(win_kind, win_rule[0]))
    steps.append(planner.walk_onto(_win_cells))
    making = f"make[{win_kind} is win], " if family.break_win else ""
    return _Draft(board.engine, steps, f"make[{you_kind} is you], {making}goto[{win_kind}]")


# ----- two rooms, make wall win (the baba package's TwoRoomMakeWallWinEnv) ----------------
def _make_wall_win(family: Family, rng: random.Random) -> _Draft:
    board = _Board(13, 9, rng)
    width, height = 13, 9
    board.wall_column(width // 2)
    areas = _two_room_areas(board, width // 2 - 3, width // 2 + 2)
    (win_kind, win_colour), (other_kind, other_colour), (spare_kind, _) = _draw_objects(rng)
    board.put_rule("baba", "you", 1, height - 2)
    board.put_rule("wall", "stop", 2, 2)
    win_rule = board.put_rule(win_kind, "win", width - 4, 1)
    board.place(word_code(spare_kind), areas["right_pushable"])
    edge = board.free_cell(_edge_cells(board))
    board.engine.move_top(win_rule[0], edge)
    board.place(object_code("baba", BABA_COLOUR), areas["left_pushable"])
    board.place(object_code(win_kind, win_colour), areas["right_anywhere"])
    board.place(object_code(other_kind, other_colour), areas["right_anywhere"])
    steps: list[PlanStep] = [
        planner.break_rule(WALL_IS_STOP),
        planner.push_word("wall", win_rule[0]),
        planner.walk_onto(_win_cells),
    ]
    return _Draft(board.engine, steps, "break[wall is stop], make[wall is win], goto[wall]")


_BUILDERS: dict[str, Callable[[Family, random.Random], _Draft]] = {
    "one_room": _one_room,
    "two_room": _two_room,
    "make_you": _make_you,
    "make_wall_win": _make_wall_win,
}
