"""Words and codes for a BabyAI state.

Two views of one state:

* ``describe_view``: the model's text, from the agent's egocentric 7x7 view
  (minigrid's ``obs["image"]``). It carries what BALROG's babyai-text
  descriptions carry (the fork's ``gen_graph``): what the agent holds; the
  nearest wall straight ahead, to the left and to the right when nothing stands
  between; and every visible object (key, ball, box, door with its state) as
  steps left/right and forward of the agent. Nothing else: no coordinates, no
  compass direction, nothing outside the view.
* ``grid_rows`` / ``view_rows``: compact per-cell codes of the full grid and
  of the cells in view, for the browser.

Everything here is a pure function of its arguments: the model text depends on
the mission and the view image only, which ``state_bytes`` includes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, OBJECT_TO_IDX
from minigrid.core.world_object import Door, WorldObj

from games.jsontypes import JSONValue

UNSEEN = OBJECT_TO_IDX["unseen"]
EMPTY = OBJECT_TO_IDX["empty"]
WALL = OBJECT_TO_IDX["wall"]
DOOR = OBJECT_TO_IDX["door"]
CARRIABLE = frozenset(OBJECT_TO_IDX[name] for name in ("key", "ball", "box"))
DOOR_STATES = {0: "open", 1: "closed", 2: "locked"}  # minigrid's Door.encode()

# Frame codes: one letter for the type, one for the colour, one for a door's state.
TYPE_CODES = {
    "empty": ".",
    "wall": "W",
    "floor": "F",
    "door": "D",
    "key": "K",
    "ball": "A",
    "box": "B",
    "goal": "G",
    "lava": "L",
}
COLOR_CODES = {"red": "r", "green": "g", "blue": "b", "purple": "p", "yellow": "y", "grey": "e"}
STATE_CODES = {"open": "o", "closed": "c", "locked": "l"}
LEGEND: dict[str, JSONValue] = {
    "types": {code: name for name, code in TYPE_CODES.items()},
    "colors": {code: name for name, code in COLOR_CODES.items()},
    "door_states": {code: name for name, code in STATE_CODES.items()},
    "format": "type letter, then colour letter, then (doors) state letter; walls are 'W'",
}
DIRECTIONS = ("east", "south", "west", "north")  # minigrid agent_dir 0..3


# ----- the model's text -------------------------------------------------------
def describe_view(image: np.ndarray) -> tuple[str | None, list[str]]:
    """What the agent holds (None: nothing) and one line per thing it sees,
    from its view image (shape (V, V, 3), indexed [column][row], the agent at
    the bottom middle facing up; minigrid draws the held object in the
    agent's own cell)."""
    size = image.shape[0]
    ax, ay = size // 2, size - 1
    held = image[ax, ay]
    carrying = _name(held) if int(held[0]) in CARRIABLE else None
    return carrying, _wall_lines(image[:, :, 0], ax, ay) + _object_lines(image, ax, ay)


def _wall_lines(types: np.ndarray, ax: int, ay: int) -> list[str]:
    """The wall closing each of the three straight lines from the agent, when
    the first thing seen along the line is that wall."""
    rays = (
        ("forward", [types[ax, j] for j in range(ay - 1, -1, -1)]),
        ("left", [types[i, ay] for i in range(ax - 1, -1, -1)]),
        ("right", [types[i, ay] for i in range(ax + 1, types.shape[0])]),
    )
    lines = []
    for direction, cells in rays:
        for distance, kind in enumerate(cells, start=1):
            if kind in (UNSEEN, EMPTY):
                continue
            if kind == WALL:
                lines.append(f"a wall {_steps(distance)} {direction}")
            break
    return lines


def _object_lines(image: np.ndarray, ax: int, ay: int) -> list[str]:
    """Every visible object, scanning columns left to right, far to near."""
    lines = []
    size = image.shape[0]
    for i in range(size):
        for j in range(size):
            if (i, j) == (ax, ay) or int(image[i, j, 0]) in (UNSEEN, EMPTY, WALL):
                continue
            lines.append(f"{_name(image[i, j])} {_offset(i - ax, ay - j)}")
    return lines


def _name(cell: Sequence[int]) -> str:
    kind = IDX_TO_OBJECT[int(cell[0])]
    color = IDX_TO_COLOR[int(cell[1])]
    words = f"{color} {kind}"
    if int(cell[0]) == DOOR:
        words = f"{DOOR_STATES[int(cell[2])]} {words}"
    article = "an" if words[0] in "aeiou" else "a"
    return f"{article} {words}"


def _offset(right: int, forward: int) -> str:
    if right == 0:
        return f"{_steps(forward)} forward"
    side = f"{_steps(abs(right))} {'right' if right > 0 else 'left'}"
    return side if forward == 0 else f"{side} and {_steps(forward)} forward"


def _steps(count: int) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"


# ----- the browser's codes -------------------------------------------------------
def cell_code(obj: WorldObj | None) -> str:
    if obj is None:
        return "."
    if obj.type == "wall":
        return "W"
    code = TYPE_CODES[obj.type] + COLOR_CODES[obj.color]
    if isinstance(obj, Door):
        state = "open" if obj.is_open else "locked" if obj.is_locked else "closed"
        code += STATE_CODES[state]
    return code


def grid_rows(cells: Sequence[WorldObj | None], width: int) -> list[str]:
    """One string per grid row (top first): space-separated cell codes.
    ``cells`` is minigrid's row-major ``Grid.grid`` list."""
    codes = [cell_code(obj) for obj in cells]
    return [" ".join(codes[start : start + width]) for start in range(0, len(codes), width)]


def view_rows(image: np.ndarray, agent_pos: tuple[int, int], agent_dir: int, width: int, height: int) -> list[str]:
    """One string of '0'/'1' per grid row: '1' where the agent sees the cell.

    The view image marks unseen cells with type 0; its cell (i, j) lies
    ``size-1-j`` cells ahead of the agent and ``i - size//2`` cells to its right."""
    size = image.shape[0]
    vis_i, vis_j = np.nonzero(image[:, :, 0] != UNSEEN)
    fx, fy = _DIR_VECS[agent_dir]
    rx, ry = -fy, fx
    ahead = size - 1 - vis_j
    right = vis_i - size // 2
    xs = agent_pos[0] + fx * ahead + rx * right
    ys = agent_pos[1] + fy * ahead + ry * right
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[ys[inside], xs[inside]] = 1
    return ["".join("1" if v else "0" for v in row) for row in mask.tolist()]


_DIR_VECS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # east, south, west, north
