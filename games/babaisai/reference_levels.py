"""The reference's level generators, draw for draw.

The ``baba`` package builds a fresh level on every reset from numpy's
global legacy RNG; BALROG seeds it (``np.random.seed(seed)``) right before
the first reset, and a reset after a broken ``is you`` rule continues the
same stream. We make the same calls with the same arguments, in the same
order, on a ``numpy.random.RandomState`` of our own (never the global one:
a web process plays many episodes at once), so the same seed gives the same
levels. The calls, per layout (names as in the package's ``envs.py``):

- objects: ``choice(3, size=3, replace=False)`` for the three kinds, then
  ``choice(3, size=3, replace=True)`` for their colours;
- a random free cell (``place_obj``): ``randint(left, right)`` then
  ``randint(top, bottom)``, the bounds clipped to the grid, redrawn while the
  cell's top is taken (the border counts as taken);
- a choice from a list: ``choice(len(list))``.

Layout facts (regions, fixed rule positions, task switches) are described in
our own words in the team's notes; the task switches reuse ``levels.TASK_FAMILIES``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from games.babaisai.levels import TASK_FAMILIES, Family
from games.babaisai.reference_world import Thing, World, make_object, make_word

NAMES: tuple[str, ...] = ("ball", "key", "door")
COLOURS: tuple[str, ...] = ("red", "blue", "green")

# Single room: cells the loose noun tile may take (duplicates weight the draw).
ONE_ROOM_NOUN_CELLS: tuple[tuple[int, int], ...] = (
    (4, 6), (5, 6), (6, 6),
    (4, 1), (5, 1), (6, 1),
    (6, 1), (6, 2), (6, 3), (6, 4), (6, 5), (6, 6),
)  # fmt: skip

Area = tuple[tuple[int, int], tuple[int, int]]  # (left, top), (width, height)
Objects = list[tuple[str, str]]  # (colour, name) for the win, other and spare kinds


class Builder:
    """A grid under construction plus the package's random placement calls."""

    def __init__(self, width: int, height: int, rng: np.random.RandomState) -> None:
        self.world = World(width, height)
        self.rng = rng
        self.rules: dict[str, list[tuple[int, int]]] = {}  # rule key -> block positions
        self._border()

    def _border(self) -> None:
        w, h = self.world.width, self.world.height
        ring = [(x, 0) for x in range(w)] + [(x, h - 1) for x in range(w)]
        ring += [(0, y) for y in range(h)] + [(w - 1, y) for y in range(h)]
        for x, y in ring:  # the package's wall_rect: corners get two border blocks
            self.world.put(x, y, Thing("wall", "grey"))

    def divider(self) -> None:
        x = self.world.width // 2
        for y in range(1, self.world.height - 1):
            self.world.put(x, y, make_object("fwall"))

    def objects(self) -> Objects:
        names = self.rng.choice(len(NAMES), size=3, replace=False)
        colours = self.rng.choice(len(COLOURS), size=3, replace=True)
        return [(COLOURS[int(c)], NAMES[int(n)]) for n, c in zip(names, colours, strict=True)]

    def free_cell(self, area: Area | None) -> tuple[int, int]:
        """place_obj's rejection sampling: x then y, redrawn while the top is taken."""
        w, h = self.world.width, self.world.height
        (left, top), (width, height) = area if area is not None else ((0, 0), (w, h))
        while True:
            x = int(self.rng.randint(left, min(left + width, w)))
            y = int(self.rng.randint(top, min(top + height, h)))
            if self.world.top(x, y) is None:
                return x, y

    def place(self, thing: Thing, area: Area | None) -> tuple[int, int]:
        x, y = self.free_cell(area)
        self.world.put(x, y, thing)
        return x, y

    def pick(self, cells: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> tuple[int, int]:
        return cells[int(self.rng.choice(len(cells)))]

    def put_rule(self, subject: str, target: str, x: int, y: int) -> None:
        cells = [(x + i, y) for i in range(3)]
        for (cx, cy), word in zip(cells, (subject, "is", target), strict=True):
            self.world.put(cx, cy, make_word(word))
        self.rules[f"{subject} is {target}"] = cells

    def move_block(self, rule: str, index: int, to: tuple[int, int]) -> None:
        """change_obj_pos: the top of the block's cell goes onto ``to``."""
        x, y = self.rules[rule][index]
        if (x, y) == to:
            return
        thing = self.world.top(x, y)
        if thing is not None:
            self.world.put(*to, thing)
            self.world.pop(x, y)

    def object(self, spec: tuple[str, str]) -> Thing:
        colour, name = spec
        return make_object("baba" if name == "baba" else f"f{name}", colour)


def _area(left: int, top: int, width: int, height: int) -> Area:
    return (left, top), (width, height)


# ----- single room (MakeWinEnv), 8x8 ------------------------------------------------
def _one_room(family: Family, b: Builder) -> None:
    win, other, spare = b.objects()
    b.put_rule("baba", "you", 1, 6)
    b.put_rule(win[1], "win", 1, 1)
    if family.break_win:
        to = b.free_cell(_area(2, 2, 4, 4))
        b.move_block(f"{win[1]} is win", 0, to)
    if family.distractor_rule:
        x, y = b.pick(ONE_ROOM_NOUN_CELLS)
        b.world.put(x, y, make_word(spare[1] if family.irrelevant_rule else other[1]))
    anywhere = _area(1, 2, 8, 8)  # size defaults to the grid's; clipped to it
    b.place(make_object("baba"), anywhere)
    b.place(b.object(win), anywhere)
    if family.distractor_obj:
        b.place(b.object(other), anywhere)
    if family.distractor_win_rule:
        b.put_rule(spare[1], "win", 4, 4)


# ----- two rooms (TwoRoomEnv and its two variants), 13x9 ----------------------------------
def _regions(width: int, height: int, pushable_width: int, right_pushable_left: int) -> dict[str, Area]:
    half = width // 2
    return {
        "left_pushable": _area(2, 3, pushable_width, height - 6),
        "right_pushable": _area(right_pushable_left, 3, pushable_width, height - 6),
        "left_anywhere": _area(1, 1, half - 2, height - 2),
        "right_anywhere": _area(half + 1, 2, half - 2, height - 2),
        "anywhere": _area(1, 2, width - 2, height - 2),
    }


def _edge_cells(width: int, height: int) -> list[tuple[int, int]]:
    """right_unpushable: the right room's far column, then its bottom row leftwards."""
    column = [(width - 2, 2 + i) for i in range(height - 4)]
    row = [(width - 2 - i, height - 2) for i in range(width // 2 - 2)]
    return column + row


def _two_room(family: Family, b: Builder) -> None:
    w, h = b.world.width, b.world.height
    b.divider()
    regions = _regions(w, h, w // 2 - 2, w // 2 + 1)
    win, other, spare = b.objects()
    b.put_rule("baba", "you", 1, h - 2)
    b.put_rule("wall", "stop", 1, 2)
    b.put_rule(win[1], "win", w - 4, 1)
    if family.distractor_rule:
        if family.irrelevant_rule:
            b.place(make_word(spare[1]), regions["right_pushable"])
        elif family.distractor_obj:
            b.world.put(*b.pick(_edge_cells(w, h)), make_word(other[1]))
        else:
            b.place(make_word(other[1]), regions["right_pushable"])
    if family.stop_broken:
        to = b.free_cell(regions["left_pushable"])
        b.move_block("wall is stop", (1, 2)[int(b.rng.choice(2))], to)
    if family.break_win:
        to = b.free_cell(regions["right_pushable"])
        b.move_block(f"{win[1]} is win", 0, to)
    b.place(make_object("baba"), regions["left_pushable"])
    b.place(b.object(win), regions[family.target_area])
    if family.distractor_obj:
        b.place(b.object(other), regions[family.target_area])
    if family.distractor_win_rule:
        b.put_rule(spare[1], "win", w - 4, 4)


def _make_you(family: Family, b: Builder) -> None:
    w, h = b.world.width, b.world.height
    b.divider()
    regions = _regions(w, h, w // 2 - 3, w // 2 + 2)
    win, other, _spare = b.objects()
    b.put_rule("baba", "you", 1, h - 3)
    b.put_rule("wall", "stop", 1, 1)
    b.put_rule(win[1], "win", w - 4, 1)
    b.place(make_word(other[1]), regions["left_pushable"])
    if family.break_win:
        to = b.free_cell(regions["right_pushable"])
        b.move_block(f"{win[1]} is win", 0, to)
    b.place(make_object("baba"), regions["left_pushable"])
    b.place(b.object(win), regions["right_anywhere"])
    b.place(b.object(other), regions["right_anywhere"])


def _make_wall_win(family: Family, b: Builder) -> None:
    w, h = b.world.width, b.world.height
    b.divider()
    regions = _regions(w, h, w // 2 - 3, w // 2 + 2)
    win, other, spare = b.objects()
    b.put_rule("baba", "you", 1, h - 2)
    b.put_rule("wall", "stop", 2, 2)
    b.put_rule(win[1], "win", w - 4, 1)
    b.place(make_word(spare[1]), regions["right_pushable"])
    b.move_block(f"{win[1]} is win", 0, b.pick(_edge_cells(w, h)))
    b.place(make_object("baba"), regions["left_pushable"])
    b.place(b.object(win), regions["right_anywhere"])
    b.place(b.object(other), regions["right_anywhere"])


_LAYOUTS: dict[str, tuple[tuple[int, int], Callable[[Family, Builder], None]]] = {
    "one_room": ((8, 8), _one_room),
    "two_room": ((13, 9), _two_room),
    "make_you": ((13, 9), _make_you),
    "make_wall_win": ((13, 9), _make_wall_win),
}


def generate(task: str, rng: np.random.RandomState) -> World:
    """One reset of ``baba.make(task)``: a started world (rules read, agent found)."""
    family = TASK_FAMILIES[task]
    (width, height), build = _LAYOUTS[family.layout]
    builder = Builder(width, height, rng)
    build(family, builder)
    world = builder.world
    world.start()
    if world.agent_pos is None:  # never for these tasks; the package would then place an agent
        world.agent_pos = builder.free_cell(None)
        world.agent_dir = int(rng.randint(0, 4))
    return world
