"""The reference's BabyAI text: the descriptions of the BALROG Minigrid fork.

BALROG installs ``BartekCupial/Minigrid`` (descriptions added in ad8a66b,
2024-10-31; unchanged in wording since, HEAD cf73dd1). Its env returns
``info["descriptions"]``, a list of English sentences about the agent's 7x7
egocentric view, and BALROG's wrapper shows them one per line with every
``"You see "`` removed. This module rebuilds that list from the encoded view
(minigrid's ``obs["image"]``, which is exactly the grid the fork describes)
and the carried object. Written from the behaviour, rules in order:

1. ``You carry a <colour> <type>`` when the agent holds an object.
2. Walls straight ahead, then to the left, then to the right of the agent:
   walking away from the agent, unseen and empty cells are skipped; the first
   other cell ends the walk, and is reported only when it is a wall
   (``You see a wall N step(s) forward|left|right``).
3. Every other non-empty, non-wall cell of the view except the agent's own
   cell (where the carried object is drawn), column by column from the
   agent's far left, each column from far to near: ``You see a <colour>
   <type> <distances>``; doors read ``a <open|closed|locked> <colour> door``
   (always ``a``, never ``an``). Distances: ``N step(s) forward`` straight
   ahead, ``N step(s) left|right`` on the agent's row, else ``N step(s)
   left|right and M step(s) forward``.
"""

from __future__ import annotations

import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

_OBJECT_NAMES = {index: name for name, index in OBJECT_TO_IDX.items()}
_COLOR_NAMES = {index: name for name, index in COLOR_TO_IDX.items()}
_DOOR_STATES = {0: "open", 1: "closed", 2: "locked"}
_UNSEEN = OBJECT_TO_IDX["unseen"]
_EMPTY = OBJECT_TO_IDX["empty"]
_WALL = OBJECT_TO_IDX["wall"]
_DOOR = OBJECT_TO_IDX["door"]
# What BALROG's wrapper removes from every sentence.
_SEE = "You see "


def steps(count: int, direction: str) -> str:
    return f"{count} step{'s' if count > 1 else ''} {direction}"


def descriptions(image: np.ndarray, carrying: tuple[str, str] | None) -> list[str]:
    """The fork's sentences for an encoded view ``image[x][y] = (type, colour,
    state)`` (agent at the bottom middle, facing up) and the carried
    ``(colour, type)``."""
    width, height = int(image.shape[0]), int(image.shape[1])
    ax, ay = width // 2, height - 1
    lines: list[str] = []
    if carrying is not None:
        lines.append(f"You carry a {carrying[0]} {carrying[1]}")
    walks = (
        ("forward", [(ax, y) for y in range(ay - 1, -1, -1)]),
        ("left", [(x, ay) for x in range(ax - 1, -1, -1)]),
        ("right", [(x, ay) for x in range(ax + 1, width)]),
    )
    for direction, cells in walks:
        wall = _first_wall(image, cells, (ax, ay))
        if wall is not None:
            lines.append(f"{_SEE}a wall {steps(wall, direction)}")
    for x in range(width):
        for y in range(height):
            if int(image[x][y][0]) in (_UNSEEN, _EMPTY, _WALL) or (x, y) == (ax, ay):
                continue
            lines.append(f"{_SEE}{_name(image[x][y])} {_where(x - ax, ay - y)}")
    return lines


def long_term(image: np.ndarray, carrying: tuple[str, str] | None) -> str:
    """BALROG's long-term text: the sentences one per line, ``You see `` removed."""
    return "\n".join(line.replace(_SEE, "") for line in descriptions(image, carrying))


def _first_wall(image: np.ndarray, cells: list[tuple[int, int]], agent: tuple[int, int]) -> int | None:
    """Distance to the wall ending this walk, None if something else ends it
    first or nothing does."""
    for x, y in cells:
        kind = int(image[x][y][0])
        if kind in (_UNSEEN, _EMPTY):
            continue
        return abs(x - agent[0]) + abs(y - agent[1]) if kind == _WALL else None
    return None


def _name(cell: np.ndarray) -> str:
    kind, color = _OBJECT_NAMES[int(cell[0])], _COLOR_NAMES[int(cell[1])]
    if int(cell[0]) == _DOOR:
        return f"a {_DOOR_STATES[int(cell[2])]} {color} {kind}"
    return f"a {color} {kind}"


def _where(right: int, forward: int) -> str:
    if right == 0:
        return steps(forward, "forward")
    side = steps(abs(right), "right" if right > 0 else "left")
    return side if forward == 0 else f"{side} and {steps(forward, 'forward')}"
