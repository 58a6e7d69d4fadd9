"""Finding a solution to a level, one sub-goal at a time.

A level's generator describes its solution as a list of steps (``break the
stop rule if the target is out of reach``, ``push this word to that cell``,
``walk onto a win object``). Each step is solved by a small breadth-first
search on the current state (the player alone for walking; the player and
one word for pushing, Sokoban-style) and then *executed on the engine*, so
a finished plan is a real, replayable action list. A step may offer several
alternatives (which tile to push to break a rule, which tile to shove aside
when a word is walled in); ``solve`` backtracks over them. The search is for
solvability, not for the shortest solution: it may miss solutions that need
several tiles rearranged, and the generator then draws another layout.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

from games.babaisai.engine import DIRECTION_XY, IS, Engine, Rule, word_code

# A step takes a partial plan and returns the plans it can continue with.
PlanStep = Callable[["Plan"], list["Plan"]]


class Plan:
    """A branch of the search: an engine state and the actions that reached it."""

    __slots__ = ("actions", "dead", "engine", "won")

    def __init__(self, engine: Engine, actions: list[int] | None = None) -> None:
        self.engine = engine
        self.actions: list[int] = actions if actions is not None else []
        self.won = False
        self.dead = False

    def fork(self) -> Plan:
        return Plan(self.engine.copy(), list(self.actions))

    def act(self, actions: Iterable[int]) -> Plan:
        for action in actions:
            if self.won or self.dead:
                break
            event = self.engine.step(action)
            self.actions.append(action)
            self.won, self.dead = event.won, event.died
        return self

    def player(self) -> int | None:
        """The one ``you`` object's cell; None when there is not exactly one."""
        cells = self.engine.you_cells()
        return cells[0] if len(cells) == 1 else None


def solve(engine: Engine, steps: Sequence[PlanStep]) -> Plan | None:
    """Run ``steps`` in order from ``engine`` (which is not modified); the first
    branch that wins, or None."""
    return _solve(Plan(engine.copy()), steps)


def _solve(plan: Plan, steps: Sequence[PlanStep]) -> Plan | None:
    if plan.won:
        return plan
    if plan.dead or not steps:
        return None
    for option in steps[0](plan):
        found = _solve(option, steps[1:])
        if found is not None:
            return found
    return None


# ----- searches ----------------------------------------------------------------
def _moves(engine: Engine) -> list[tuple[int, int]]:
    """(action, index delta) for the four directions."""
    return [(action, dy * engine.width + dx) for action, (dx, dy) in DIRECTION_XY.items()]


def _unwind(parents: dict[int, tuple[int, int]], state: int) -> list[int]:
    actions: list[int] = []
    while True:
        previous, action = parents[state]
        if previous < 0:
            return actions[::-1]
        actions.append(action)
        state = previous


def walk_path(engine: Engine, start: int, goals: set[int]) -> list[int] | None:
    """The shortest walk from ``start`` onto any goal without pushing anything."""
    if start in goals:
        return []
    parents: dict[int, tuple[int, int]] = {start: (-1, -1)}
    queue = deque([start])
    moves = _moves(engine)
    while queue:
        here = queue.popleft()
        for action, delta in moves:
            there = here + delta
            if there in parents or not engine.enterable(there):
                continue
            parents[there] = (here, action)
            if there in goals:
                return _unwind(parents, there)
            queue.append(there)
    return None


def reachable(engine: Engine, start: int) -> set[int]:
    """Cells the player can walk to without pushing anything."""
    seen = {start}
    queue = deque([start])
    moves = _moves(engine)
    while queue:
        here = queue.popleft()
        for _, delta in moves:
            there = here + delta
            if there not in seen and engine.enterable(there):
                seen.add(there)
                queue.append(there)
    return seen


def _enterable_beneath(engine: Engine, index: int) -> bool:
    """Whether ``index`` would be enterable once its top thing has left."""
    stack = engine.cells[index]
    return len(stack) < 2 or engine.enterable_code(stack[-2])


def push_path(engine: Engine, box: int, goal: int, player: int) -> list[int] | None:
    """Sokoban search: the shortest action list that pushes the thing on top of
    ``box`` to ``goal``, everything else standing still."""
    size = len(engine.cells)
    free = [engine.enterable(i) for i in range(size)]
    free[box] = _enterable_beneath(engine, box)
    free[player] = _enterable_beneath(engine, player)
    moves = _moves(engine)
    start = box * size + player
    parents: dict[int, tuple[int, int]] = {start: (-1, -1)}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        at_box, at_player = divmod(state, size)
        for action, delta in moves:
            step = at_player + delta
            if step == at_box:
                pushed = at_box + delta
                if not free[pushed]:
                    continue
                following = pushed * size + at_box
            elif free[step]:
                following = at_box * size + step
            else:
                continue
            if following in parents:
                continue
            parents[following] = (state, action)
            if following // size == goal:
                return _unwind(parents, following)
            queue.append(following)
    return None


# ----- rule lookups --------------------------------------------------------------
def rule_cells(engine: Engine, rule: Rule) -> list[tuple[int, int, int]]:
    """Every (subject, is, target) cell triple that forms ``rule``."""
    subject, target = word_code(rule.subject), word_code(rule.target)
    width = engine.width
    found = []
    for middle in engine.find(IS):
        for delta in (1, width):
            before, after = middle - delta, middle + delta
            if engine.top(before) == subject and engine.top(after) == target:
                found.append((before, middle, after))
    return found


# ----- steps ---------------------------------------------------------------------
def walk_onto(goals_of: Callable[[Engine], set[int]]) -> PlanStep:
    """Walk onto one of the cells ``goals_of`` names (e.g. the win objects)."""

    def step(plan: Plan) -> list[Plan]:
        player = plan.player()
        if player is None:
            return []
        path = walk_path(plan.engine, player, goals_of(plan.engine))
        return [] if path is None else [plan.fork().act(path)]

    return step


def push_word(word: str, goal: int, options: int = 2) -> PlanStep:
    """Push the (single) tile ``word`` that is not yet at ``goal`` onto ``goal``.
    If other tiles wall it in, first shove one other tile one cell aside (the
    cheapest ``options`` ways that then succeed)."""
    code = word_code(word)

    def step(plan: Plan) -> list[Plan]:
        direct = _push_word_now(plan, code, goal)
        if direct is not None:
            return [direct]
        found = []
        for cleared in _shove_one_tile(plan, avoid=code):
            moved = _push_word_now(cleared, code, goal)
            if moved is not None:
                found.append(moved)
        found.sort(key=lambda moved: len(moved.actions))
        return found[:options]

    return step


def _push_word_now(plan: Plan, code: int, goal: int) -> Plan | None:
    player = plan.player()
    boxes = [i for i in plan.engine.find(code) if i != goal]
    if player is None or len(boxes) != 1:
        return None
    path = push_path(plan.engine, boxes[0], goal, player)
    if path is None:
        return None
    moved = plan.fork().act(path)
    return moved if moved.won or moved.engine.top(goal) == code else None


def _shove_one_tile(plan: Plan, avoid: int) -> list[Plan]:
    """Every way to walk up to a word tile (other than ``avoid``) and push it one
    cell, leaving exactly one YOU object."""
    engine = plan.engine
    player = plan.player()
    if player is None:
        return []
    shoved = []
    for tile, stack in enumerate(engine.cells):
        if not stack or stack[-1] == avoid or not engine.pushable_code(stack[-1]):
            continue
        for action, delta in _moves(engine):
            if not engine.enterable(tile + delta):
                continue
            path = walk_path(engine, player, {tile - delta})
            if path is None:
                continue
            moved = plan.fork().act([*path, action])
            if not moved.dead and moved.player() is not None:
                shoved.append(moved)
    return shoved


def act(actions: Sequence[int]) -> PlanStep:
    def step(plan: Plan) -> list[Plan]:
        return [plan.fork().act(actions)]

    return step


def require(check: Callable[[Engine], bool]) -> PlanStep:
    """Continue only if ``check`` holds (e.g. the rule a push was meant to form)."""

    def step(plan: Plan) -> list[Plan]:
        return [plan] if plan.won or check(plan.engine) else []

    return step


def break_rule(rule: Rule, options: int = 4) -> PlanStep:
    """Push one tile of ``rule`` one cell so that the rule no longer holds; the
    cheapest ``options`` ways, cheapest first. Nothing to do if it does not hold."""

    def step(plan: Plan) -> list[Plan]:
        engine = plan.engine
        if rule not in engine.rules:
            return [plan]
        player = plan.player()
        if player is None:
            return []
        found: list[tuple[int, Plan]] = []
        for cells in rule_cells(engine, rule):
            for tile in cells:
                for action, delta in _moves(engine):
                    if not engine.enterable(tile + delta):
                        continue  # a single push only: nothing chained behind the tile
                    path = walk_path(engine, player, {tile - delta})
                    if path is None:
                        continue
                    moved = plan.fork().act([*path, action])
                    if moved.won or (rule not in moved.engine.rules and moved.player() is not None):
                        found.append((len(moved.actions), moved))
        found.sort(key=lambda pair: pair[0])
        return [moved for _, moved in found[:options]]

    return step


def break_rule_to_reach(rule: Rule, targets_of: Callable[[Engine], set[int]]) -> PlanStep:
    """Break ``rule`` only if no target cell is reachable (or next to a reachable
    cell, for a tile to push) without breaking it."""
    breaker = break_rule(rule)

    def step(plan: Plan) -> list[Plan]:
        player = plan.player()
        if player is None:
            return []
        region = reachable(plan.engine, player)
        width = plan.engine.width
        for target in targets_of(plan.engine):
            if any(cell in region for cell in (target, target - 1, target + 1, target - width, target + width)):
                return [plan]
        return breaker(plan)

    return step
