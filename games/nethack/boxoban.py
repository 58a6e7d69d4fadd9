"""Boxoban levels for MiniHack: a Sokoban level generator, level sets on disk,
and the MiniHack env that plays the level the adapter picks.

Level text format (as DeepMind's boxoban-levels): files ``NNN.txt`` holding
levels separated by blank lines, each a header line ``; <number>`` and 10
rows of 10 characters: ``#`` wall, `` `` floor, ``.`` target, ``$`` box,
``@`` player. Boxes and the player never start on a target.

Two sources, chosen with the adapter option ``level_source``:
* ``generated`` (default, offline): levels made here by reverse play, stored
  under ``BALROG_GAME_DATA_DIR/boxoban/generated/<difficulty>/000.txt`` with
  their solutions in ``solutions.json``;
* ``official``: DeepMind's set, fetched by ``manage.py download_boxoban``
  into ``BALROG_GAME_DATA_DIR/boxoban/official/<set>/...``.

The generator follows the Boxoban authors' recipe: carve a room topology
with a random walk of floor templates, put the boxes on their targets (the
solved state), then play backwards - the player walks and *pulls* boxes -
keeping the most scrambled state found (score: box switches x total box
displacement). Reversing the pulls gives a solution, which is checked by a
forward simulation before the level is kept. "Medium" and "hard" differ by
the score and push count a level must reach: a heuristic, not the official
sets' filtering by agent performance. Every solution fits in BALROG's
100-step MiniHack cap.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from games.jsontypes import JSONObject

GENERATOR_VERSION = 1
SIZE = 10
BOXES = 4
Cell = tuple[int, int]  # (x, y), y grows downwards

# Moves as the solution strings spell them, and the language action of each.
MOVES: dict[str, Cell] = {"U": (0, -1), "D": (0, 1), "L": (-1, 0), "R": (1, 0)}
MOVE_ACTIONS = {"U": "north", "D": "south", "L": "west", "R": "east"}
_OPPOSITE = {"U": "D", "D": "U", "L": "R", "R": "L"}

# Floor stamps applied along the digger's walk (offsets around its position).
TEMPLATES: tuple[tuple[Cell, ...], ...] = (
    ((0, 0),),
    ((0, 0), (1, 0)),
    ((0, 0), (0, 1)),
    ((0, 0), (1, 0), (2, 0)),
    ((0, 0), (0, 1), (0, 2)),
    ((0, 0), (1, 0), (0, 1), (1, 1)),
    ((0, 0), (1, 0), (0, 1)),
    ((0, 0), (-1, 0), (0, 1)),
    ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)),
)


@dataclass(frozen=True)
class Difficulty:
    name: str
    seed: int  # fixed: the generated set is the same on every machine
    count: int
    min_floor: int
    max_floor: int
    min_score: int  # box switches x total box displacement
    min_pushes: int
    max_solution: int  # moves; BALROG stops MiniHack episodes after 100 steps


DIFFICULTIES: dict[str, Difficulty] = {
    "medium": Difficulty("medium", 20_241_101, 120, 26, 36, 12, 8, 80),
    "hard": Difficulty("hard", 20_241_102, 120, 30, 40, 24, 12, 95),
}
# MiniHack task -> (difficulty of the generated set, directory inside the official set)
TASK_LEVEL_SETS: dict[str, tuple[str, str]] = {
    "MiniHack-Boxoban-Medium-v0": ("medium", "medium/train"),
    "MiniHack-Boxoban-Hard-v0": ("hard", "hard"),
}
LEVEL_SOURCES = ("generated", "official")
OFFICIAL_ARCHIVE_URL = "https://github.com/deepmind/boxoban-levels/archive/refs/heads/master.zip"


class BoxobanLevelsMissing(FileNotFoundError):
    pass


# ----- the puzzle -------------------------------------------------------------------
@dataclass(frozen=True)
class Puzzle:
    floor: frozenset[Cell]  # every non-wall cell
    targets: frozenset[Cell]
    boxes: frozenset[Cell]
    player: Cell

    def text(self) -> str:
        rows = []
        for y in range(SIZE):
            row = []
            for x in range(SIZE):
                cell = (x, y)
                if cell not in self.floor:
                    row.append("#")
                elif cell == self.player:
                    row.append("@")
                elif cell in self.boxes:
                    row.append("$")
                elif cell in self.targets:
                    row.append(".")
                else:
                    row.append(" ")
            rows.append("".join(row))
        return "\n".join(rows)

    @classmethod
    def parse(cls, text: str) -> Puzzle:
        floor, targets, boxes, player = set(), set(), set(), None
        for y, row in enumerate(text.splitlines()):
            for x, char in enumerate(row):
                if char == "#":
                    continue
                floor.add((x, y))
                if char in ".*+":
                    targets.add((x, y))
                if char in "$*":
                    boxes.add((x, y))
                if char in "@+":
                    player = (x, y)
        if player is None:
            raise ValueError("a Boxoban level needs a player (@)")
        return cls(frozenset(floor), frozenset(targets), frozenset(boxes), player)


def _step(cell: Cell, move: Cell) -> Cell:
    return (cell[0] + move[0], cell[1] + move[1])


def play(puzzle: Puzzle, moves: str) -> tuple[Puzzle, bool]:
    """Play moves forward with Sokoban rules; return the final state and
    whether every box ended on a target. A blocked move is an error."""
    boxes = set(puzzle.boxes)
    player = puzzle.player
    for index, move in enumerate(moves):
        ahead = _step(player, MOVES[move])
        if ahead not in puzzle.floor:
            raise ValueError(f"move {index} ({move}) walks into a wall")
        if ahead in boxes:
            beyond = _step(ahead, MOVES[move])
            if beyond not in puzzle.floor or beyond in boxes:
                raise ValueError(f"move {index} ({move}) pushes a blocked box")
            boxes.remove(ahead)
            boxes.add(beyond)
        player = ahead
    final = Puzzle(puzzle.floor, puzzle.targets, frozenset(boxes), player)
    return final, boxes == set(puzzle.targets)


# ----- generation -------------------------------------------------------------------
def carve_room(rng: random.Random, floor_cells: int) -> frozenset[Cell]:
    """Floor carved by a walking digger that stamps templates; the outer ring stays wall."""
    inside = range(1, SIZE - 1)
    floor: set[Cell] = set()
    position = (rng.choice(inside), rng.choice(inside))
    direction = rng.choice(list(MOVES.values()))
    for _ in range(400):
        if len(floor) >= floor_cells:
            break
        for dx, dy in rng.choice(TEMPLATES):
            x, y = position[0] + dx, position[1] + dy
            if 1 <= x < SIZE - 1 and 1 <= y < SIZE - 1:
                floor.add((x, y))
        if rng.random() < 0.35:
            direction = rng.choice(list(MOVES.values()))
        ahead = _step(position, direction)
        if 1 <= ahead[0] < SIZE - 1 and 1 <= ahead[1] < SIZE - 1:
            position = ahead
    return frozenset(floor)


def _walk_paths(floor: frozenset[Cell], boxes: set[Cell], start: Cell) -> dict[Cell, str]:
    """Shortest walking moves (boxes are obstacles) from start to each reachable cell."""
    paths = {start: ""}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for name, move in MOVES.items():
            ahead = _step(cell, move)
            if ahead in floor and ahead not in boxes and ahead not in paths:
                paths[ahead] = paths[cell] + name
                queue.append(ahead)
    return paths


@dataclass
class _Pull:
    walk: str  # moves to the pulling position
    direction: str  # the player steps this way, dragging the box behind


def _reverse_play(
    rng: random.Random, floor: frozenset[Cell], targets: frozenset[Cell], player: Cell, pulls: int
) -> tuple[list[_Pull], Puzzle, int, int] | None:
    """Random backward play from the solved state; returns the pulls up to the
    best-scoring state, that state, its score and its push count."""
    boxes = list(sorted(targets))  # box i starts on its own target
    origin = list(boxes)
    history: list[_Pull] = []
    best: tuple[int, Puzzle, int] | None = None
    last_box = -1
    switches = 0
    for _ in range(pulls):
        occupied = set(boxes)
        paths = _walk_paths(floor, occupied, player)
        options = []
        for cell in sorted(paths):
            for name, move in MOVES.items():
                box = _step(cell, move)  # the box on this side of the player...
                back = _step(cell, MOVES[_OPPOSITE[name]])  # ...is dragged as the player steps back
                if box in occupied and back in floor and back not in occupied:
                    options.append((cell, name, box, back))
        if not options:
            break
        cell, name, box, back = rng.choice(options)
        index = boxes.index(box)
        switches += index != last_box
        last_box = index
        boxes[index] = cell
        player = back
        history.append(_Pull(paths[cell], _OPPOSITE[name]))
        state = Puzzle(floor, targets, frozenset(boxes), player)
        if targets.isdisjoint(boxes) and player not in targets:
            displacement = sum(abs(b[0] - o[0]) + abs(b[1] - o[1]) for b, o in zip(boxes, origin, strict=True))
            score = switches * displacement
            if best is None or score > best[0]:
                best = (score, state, len(history))
    if best is None:
        return None
    score, state, length = best
    return history[:length], state, score, length


def _solution(history: Sequence[_Pull]) -> str:
    """Forward moves for the reversed pulls: each pull undone is a push the
    other way, then the walk that led to it, reversed."""
    moves: list[str] = []
    for position, pull in enumerate(reversed(history)):
        moves.append(_OPPOSITE[pull.direction])
        is_last_push = position == len(history) - 1
        if not is_last_push:
            moves.extend(_OPPOSITE[move] for move in reversed(pull.walk))
    return "".join(moves)


@dataclass(frozen=True)
class GeneratedLevel:
    puzzle: Puzzle
    solution: str
    score: int


def generate_level(rng: random.Random, difficulty: Difficulty, attempts: int = 200) -> GeneratedLevel:
    for _ in range(attempts):
        floor = carve_room(rng, rng.randint(difficulty.min_floor, difficulty.max_floor))
        if len(floor) < BOXES + 6:
            continue
        cells = sorted(floor)
        targets = frozenset(rng.sample(cells, BOXES))
        player = rng.choice([cell for cell in cells if cell not in targets])
        found = _reverse_play(rng, floor, targets, player, pulls=60)
        if found is None:
            continue
        history, puzzle, score, pushes = found
        solution = _solution(history)
        if score < difficulty.min_score or pushes < difficulty.min_pushes:
            continue
        if len(solution) > difficulty.max_solution:
            continue
        _final, solved = play(puzzle, solution)
        if not solved:  # cannot happen if reverse play is right; never ship an unsolvable level
            raise AssertionError("a generated Boxoban solution does not solve its level")
        return GeneratedLevel(puzzle, solution, score)
    raise RuntimeError(f"no {difficulty.name} Boxoban level found in {attempts} attempts")


def generate_levels(difficulty: Difficulty) -> list[GeneratedLevel]:
    rng = random.Random(difficulty.seed)
    return [generate_level(rng, difficulty) for _ in range(difficulty.count)]


def level_file_text(puzzles: Iterable[Puzzle]) -> str:
    return "".join(f"; {number}\n{puzzle.text()}\n\n" for number, puzzle in enumerate(puzzles))


# ----- level sets on disk ----------------------------------------------------------
def data_root() -> Path:
    return Path(settings.BALROG_GAME_DATA_DIR) / "boxoban"


def generated_dir(difficulty: str) -> Path:
    return data_root() / "generated" / difficulty


def official_dir(task: str) -> Path:
    return data_root() / "official" / TASK_LEVEL_SETS[task][1]


def _manifest(difficulty: Difficulty) -> dict[str, Any]:
    return {"generator_version": GENERATOR_VERSION, "difficulty": difficulty.__dict__}


def generated_set_is_current(difficulty: Difficulty) -> bool:
    manifest = generated_dir(difficulty.name) / "manifest.json"
    try:
        stored = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        stored.get("generator_version") == GENERATOR_VERSION and stored.get("difficulty") == difficulty.__dict__
    )


def write_generated_set(difficulty: Difficulty) -> Path:
    """Generate the set and move it into place atomically (concurrent callers
    produce identical files, so whichever rename lands last is fine)."""
    levels = generate_levels(difficulty)
    target = generated_dir(difficulty.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{difficulty.name}-", dir=target.parent))
    try:
        (staging / "000.txt").write_text(level_file_text(level.puzzle for level in levels), encoding="utf-8")
        solutions = {str(number): level.solution for number, level in enumerate(levels)}
        (staging / "solutions.json").write_text(json.dumps(solutions, indent=0), encoding="utf-8")
        (staging / "manifest.json").write_text(json.dumps(_manifest(difficulty), indent=1), encoding="utf-8")
        if target.exists():
            old = target.with_name(f".{difficulty.name}-old-{os.getpid()}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_generated(task: str, *, force: bool = False) -> str:
    difficulty = DIFFICULTIES[TASK_LEVEL_SETS[task][0]]
    if not force and generated_set_is_current(difficulty):
        return f"generated {difficulty.name} Boxoban levels already in {generated_dir(difficulty.name)}"
    started = time.perf_counter()
    path = write_generated_set(difficulty)
    elapsed = time.perf_counter() - started
    return f"generated {difficulty.count} {difficulty.name} Boxoban levels in {elapsed:.1f}s into {path}"


def generated_solutions(difficulty: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((generated_dir(difficulty) / "solutions.json").read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class ChosenLevel:
    source: str
    level_id: str  # "<file relative to the set>#<number>"
    text: str  # the rows, each ending in a newline (minihack's own format)
    file_digest: str

    @property
    def digest(self) -> str:
        return hashlib.blake2b(self.text.encode(), digest_size=16).hexdigest()

    def facts(self) -> JSONObject:
        return {
            "level_source": self.source,
            "level_id": self.level_id,
            "level_digest": self.digest,
            "level_file_digest": self.file_digest,
        }


def parse_level_file(text: str) -> list[tuple[str, str]]:
    """(number, rows) of each level in a file; rows end with newlines."""
    levels = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if len(lines) > 1 and lines[0].startswith(";"):
            levels.append((lines[0][1:].strip(), "".join(f"{line}\n" for line in lines[1:])))
    return levels


def level_set_dir(task: str, source: str) -> Path:
    if source == "generated":
        return generated_dir(TASK_LEVEL_SETS[task][0])
    if source == "official":
        return official_dir(task)
    raise ValueError(f"unknown Boxoban level source {source!r}; use one of {', '.join(LEVEL_SOURCES)}")


def level_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("*.txt") if path.stem.isdigit())


def choose_level(task: str, source: str, seed: int) -> ChosenLevel:
    """The level an episode seed plays: a file, then a level in it, both from
    a hash of the seed (Python's global ``random`` is never touched)."""
    directory = level_set_dir(task, source)
    files = level_files(directory)
    if not files:
        hint = "run `python manage.py download_boxoban`" if source == "official" else "run prepare()"
        raise BoxobanLevelsMissing(f"no {source} Boxoban levels in {directory}: {hint}")
    pick = int.from_bytes(hashlib.blake2b(f"boxoban:{seed}".encode(), digest_size=8).digest(), "little")
    path = files[pick % len(files)]
    content = path.read_text(encoding="utf-8")
    levels = parse_level_file(content)
    number, rows = levels[(pick // len(files)) % len(levels)]
    return ChosenLevel(
        source=source,
        level_id=f"{path.relative_to(directory).as_posix()}#{number}",
        text=rows,
        file_digest=hashlib.blake2b(content.encode(), digest_size=16).hexdigest(),
    )


# ----- the env ------------------------------------------------------------------
def make_boxoban_env(first_level: str, **kwargs: Any) -> Any:
    """minihack's Boxoban env, playing levels handed to it instead of drawing
    them with the global ``random`` from files inside site-packages."""
    from minihack import LevelGenerator, MiniHackNavigation
    from minihack.envs.boxohack import MOVE_ACTIONS as CARDINAL_MOVES
    from minihack.envs.boxohack import BoxoHack

    class AdapterBoxoban(BoxoHack):  # type: ignore[misc]  # minihack is untyped
        # Bypasses BoxoHack.__init__ (which loads every level file and draws
        # one) but sets the same attributes, with the values that
        # MiniHackBoxobanMedium/Hard set.
        def __init__(self, level: str, **kw: Any) -> None:
            kw["max_episode_steps"] = kw.pop("max_episode_steps", 400)
            kw["actions"] = kw.pop("actions", CARDINAL_MOVES)
            kw.pop("penalty_time", None)
            self._time_penalty = -0.001
            self._reward_shaping_coefficient = 0.1
            self._flags: tuple[str, ...] = ()
            self._levels: list[str] = []
            self._level = level
            # nle 1.3 checks the end state inside reset(), before BoxoHack sets this.
            self._goal_pos_set: set[tuple[int, int]] = set()
            MiniHackNavigation.__init__(self, des_file=self.get_lvl_gen().get_des(), **kw)

        def set_level(self, level: str) -> None:
            self._level = level

        def get_lvl_gen(self) -> Any:
            map_text, info = self.get_env_map(self._level.split("\n"))
            lvl_gen = LevelGenerator(
                map=map_text, lit=True, flags=[*self._flags, "noteleport", "premapped"], solidfill=" "
            )
            for boulder in info["boulders"]:
                lvl_gen.add_boulder(boulder)
            for fountain in info["fountains"]:
                lvl_gen.add_fountain(fountain)
            lvl_gen.set_start_pos(info["player"])
            return lvl_gen

        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
            self.update(self.get_lvl_gen().get_des())
            self._goal_pos_set = set()
            result = MiniHackNavigation.reset(self, seed=seed, options=options)
            self._goal_pos_set = self._object_positions(self.last_observation, "{")
            return result

    return AdapterBoxoban(first_level, **kwargs)
