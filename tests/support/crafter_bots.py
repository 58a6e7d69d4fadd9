"""Two small bots that play Crafter for real, reading the adapter's crafter
world and walking by breadth-first search: ``Bot`` gathers and crafts;
``Survivor`` lives through the nights (at dusk it backs into a dead-end cell,
turns to the first zombie that reaches the open side, kills it and seals the
gap with a stone) long enough to reach the 2,000-step cap. The Crafter tests
play with them, and bench/game_core.py times the survivor's episode."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from crafter import constants

from games.crafter.adapter import CrafterAdapter

Goal = Callable[[int, int], bool]

MOVES = {(0, -1): "Move North", (0, 1): "Move South", (-1, 0): "Move West", (1, 0): "Move East"}
CREATURE_GROUND = frozenset({"grass", "sand", "path"})  # where zombies, cows and skeletons can stand
TABLE_WOOD = constants.place["table"]["uses"]["wood"]
SURVIVAL_SEED = 8  # the Survivor reaches the step cap on this world


class Bot:
    def __init__(self, adapter: CrafterAdapter, walk: tuple[str, ...] = ("grass", "sand", "path")) -> None:
        self.adapter = adapter
        self.walk = frozenset(walk)

    @property
    def player(self):
        return self.adapter.game.player  # type: ignore[union-attr]

    @property
    def world(self):
        return self.adapter.game.world  # type: ignore[union-attr]

    def pos(self) -> tuple[int, int]:
        return int(self.player.pos[0]), int(self.player.pos[1])

    def facing(self) -> tuple[int, int]:
        return int(self.player.facing[0]), int(self.player.facing[1])

    def cell(self, x: int, y: int) -> tuple[str | None, object]:
        if not (0 <= x < 64 and 0 <= y < 64):
            return None, None
        return self.world[(x, y)]

    def count(self, item: str) -> int:
        return int(self.player.inventory[item])

    def first_step(self, is_destination: Goal) -> tuple[int, int] | None:
        """The first move of a shortest walk to a destination cell, (0, 0) when
        already there, None when none is reachable."""
        start = self.pos()
        if is_destination(*start):
            return (0, 0)
        names, mats, objs = self.world._mat_names, self.world._mat_map, self.world._obj_map
        parent = {start: start}
        queue = deque([start])
        while queue:
            cur = queue.popleft()
            for dx, dy in MOVES:
                nxt = (cur[0] + dx, cur[1] + dy)
                if nxt in parent or not (0 <= nxt[0] < 64 and 0 <= nxt[1] < 64):
                    continue
                if names[mats[nxt]] not in self.walk or objs[nxt]:
                    continue
                parent[nxt] = cur
                if is_destination(*nxt):
                    while parent[nxt] != start:
                        nxt = parent[nxt]
                    return nxt[0] - start[0], nxt[1] - start[1]
                queue.append(nxt)
        return None

    def toward(self, is_goal: Goal) -> str | None:
        """The next action toward using Do on a goal cell: a move, a turn or Do."""
        step = self.first_step(lambda x, y: any(is_goal(x + dx, y + dy) for dx, dy in MOVES))
        if step is None:
            return None
        if step != (0, 0):
            return MOVES[step]
        x, y = self.pos()
        if is_goal(x + self.facing()[0], y + self.facing()[1]):
            return "Do"
        return MOVES[next(d for d in MOVES if is_goal(x + d[0], y + d[1]))]

    def material(self, name: str) -> Goal:
        return lambda x, y: self.cell(x, y) == (name, None)

    def creature(self, kind: str) -> Goal:
        return lambda x, y: type(self.cell(x, y)[1]).__name__ == kind

    def work(self, goal: Goal, done: Callable[[], bool], budget: int = 300) -> bool:
        """Walk to goal cells and Do until ``done()``."""
        for _ in range(budget):
            if done() or self.adapter.done:
                break
            action = self.toward(goal)
            if action is None:
                break
            self.adapter.step(action)
        return done()

    def face_free(self, materials: tuple[str, ...] = ("grass", "sand", "path")) -> bool:
        """Step until the cell in front is free ground of ``materials`` (placing needs it)."""
        for _ in range(8):
            x, y = self.pos()
            fx, fy = self.facing()
            mat, obj = self.cell(x + fx, y + fy)
            if mat in materials and obj is None:
                return True
            free = [d for d in MOVES if self.cell(x + d[0], y + d[1]) in [(m, None) for m in materials]]
            if not free:
                return False
            self.adapter.step(MOVES[free[0]])
        return False


class Survivor(Bot):
    """By day: drink, eat cows, sleep when tired. From dusk: shelter in a
    dead-end cell, kill the first zombie at the gap, seal it with a stone,
    sleep; in the morning mine the seal open again."""

    def __init__(self, adapter: CrafterAdapter) -> None:
        super().__init__(adapter, walk=("grass", "sand"))
        self.drinking = self.eating = False

    def phase(self) -> int:
        return self.adapter.game.step_count % 300  # type: ignore[union-attr]

    def night(self) -> bool:
        return self.phase() >= 120 or self.phase() < 25

    def zombie_within(self, radius: int) -> bool:
        x, y = self.pos()
        return any(
            type(obj).__name__ == "Zombie" and abs(int(obj.pos[0]) - x) + abs(int(obj.pos[1]) - y) <= radius
            for obj in self.world.objects
        )

    def is_pocket(self, x: int, y: int) -> bool:
        mat, obj = self.cell(x, y)
        if mat not in self.walk or obj not in (None, self.player):
            return False
        around = [self.cell(x + dx, y + dy)[0] for dx, dy in MOVES]
        return sum(m in CREATURE_GROUND for m in around) == 1 and "lava" not in around

    def is_wet_pocket(self, x: int, y: int) -> bool:
        return self.is_pocket(x, y) and any(self.cell(x + dx, y + dy)[0] == "water" for dx, dy in MOVES)

    def sealed(self) -> bool:
        x, y = self.pos()
        return not any(self.cell(x + dx, y + dy)[0] in CREATURE_GROUND for dx, dy in MOVES)

    def action(self) -> str:
        if self.player.sleeping:
            return "Noop"
        x, y = self.pos()
        for d, move in MOVES.items():
            if type(self.cell(x + d[0], y + d[1])[1]).__name__ in ("Zombie", "Skeleton"):
                return "Do" if self.facing() == d else move
        return self.night_action() if self.night() else self.day_action()

    def night_action(self) -> str:
        x, y = self.pos()
        if self.sealed():
            if self.count("drink") < 7 and (act := self.toward(self.material("water"))):
                return act
            return "Sleep" if self.count("energy") < 9 else "Noop"
        if self.is_pocket(x, y):
            fx, fy = self.facing()
            if self.cell(x + fx, y + fy)[0] in CREATURE_GROUND and self.count("stone"):
                return "Place Stone"  # we face the gap only after turning to a zombie there
            return "Noop"
        step = self.first_step(self.is_wet_pocket) or self.first_step(self.is_pocket)
        return MOVES[step] if step not in (None, (0, 0)) else "Noop"

    def day_action(self) -> str:
        if self.sealed():
            return "Noop" if self.zombie_within(8) else self.open_seal()
        inv = self.player.inventory
        dusk = self.phase() >= 90
        self.drinking = (inv["drink"] < 6 or self.drinking or dusk) and inv["drink"] < 9
        self.eating = (inv["food"] < 6 or self.eating or dusk) and inv["food"] < 9
        if self.drinking and (act := self.toward(self.material("water"))):
            return act
        if self.eating and (act := self.toward(self.creature("Cow")) or self.through_caves(self.creature("Cow"))):
            return act
        if self.count("stone") < 1 and (act := self.toward(self.material("stone"))):
            return act
        return "Sleep" if inv["energy"] < 5 else "Noop"

    def through_caves(self, goal: Goal) -> str | None:
        saved, self.walk = self.walk, self.walk | {"path"}
        try:
            return self.toward(goal)
        finally:
            self.walk = saved

    def open_seal(self) -> str:
        x, y = self.pos()
        for d in MOVES:
            beyond = self.cell(x + 2 * d[0], y + 2 * d[1])[0]
            if self.cell(x + d[0], y + d[1])[0] == "stone" and beyond in CREATURE_GROUND:
                return "Do" if self.facing() == d else MOVES[d]
        return self.toward(self.material("stone")) or "Noop"


def survival_opening(adapter: CrafterAdapter) -> None:
    """Wood, a table, wood tools, a stone and a stone sword."""
    bot = Bot(adapter)
    bot.work(bot.material("tree"), lambda: bot.count("wood") >= TABLE_WOOD + 3)
    if bot.face_free():
        adapter.step("Place Table")
    adapter.step("Make Wood Pickaxe")
    adapter.step("Make Wood Sword")
    bot.work(bot.material("stone"), lambda: bot.count("stone") >= 2)
    bot.work(bot.material("table"), lambda: bot.toward(bot.material("table")) == "Do")
    adapter.step("Make Stone Sword")


def new_adapter(seed: int) -> CrafterAdapter:
    adapter = CrafterAdapter("default")
    adapter.reset(seed)
    return adapter
