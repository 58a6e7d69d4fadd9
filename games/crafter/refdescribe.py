"""Crafter's texts exactly as the reference BALROG evaluator shows them.

BALROG@af7d1f1 (``balrog/environments/crafter/env.py``, default config:
``unique_items`` on, ``precise_location``, ``skip_items`` and
``edge_only_items`` off) describes crafter's *semantic map* (material ids,
with each creature's id written over its cell). Its rules, reproduced here
with our own code:

* the window is the semantic map sliced ``[px-4 : px+5, py-3 : py+4]`` (x
  first) with Python's slice rules, so near the world's edge a negative start
  wraps to an empty or shorter slice; the "centre" stays at (4, 3) of that
  slice whatever it holds;
* cells are scanned x-major (west to east, each column north to south); each
  kind of thing other than the player keeps its first strictly closest cell
  (Manhattan distance), kinds in order of first sight; the ground (grass,
  sand, path) is listed like anything else;
* a place reads ``<d> step[s] to your <north|south>[-]<west|east>``: ``steps``
  only when d > 1, and no direction word at the centre itself;
* the facing line names the id in front of the centre, or ``nothing`` when
  that cell is outside the slice;
* the long-term text starts with a sleeping or dead line and FOUR newlines
  (the status ends with two and two more separate it); the short-term text
  is the vitals out of 9 and the held items by crafter's own item names.

``log_format_ok`` checks a logged observation against this grammar, also in
the reference's 2024 form (``1 steps``; an older invalid-action line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from crafter import constants, objects

from games.crafter.engine import ITEMS, MAX_VITAL, VITALS
from reference.prompts import feedback_prefix, reference_prompts

#: the window's half width and the rows above/below the player (view 9x9 minus
#: the two inventory rows, sliced asymmetrically as the reference does)
_HALF_WIDTH = 4
_ROWS_ABOVE = 3
_ROWS_BELOW = 3
_CENTRE = (4, 3)

#: crafter's semantic ids -> the reference's names: [None] + materials, then
#: the object classes in the order crafter.Env gives them to its SemanticView
_OBJECT_CLASSES: tuple[type, ...] = (
    objects.Player,
    objects.Cow,
    objects.Zombie,
    objects.Skeleton,
    objects.Arrow,
    objects.Plant,
)
ID_NAMES: tuple[str, ...] = (
    "None",
    *(str(name) for name in constants.materials),
    *(cls.__name__.lower() for cls in _OBJECT_CLASSES),
)
PLAYER_ID = ID_NAMES.index("player")


def _fragment(prefix: str) -> str:
    """The reference's own string starting with ``prefix`` (reference.prompts' vendored JSON)."""
    fragments: list[str] = reference_prompts()["observation_strings"]["crafter"]["fragments"]
    matches = [text for text in fragments if text.startswith(prefix)]
    if len(matches) != 1:
        raise RuntimeError(f"the reference prompt file has {len(matches)} crafter fragments starting {prefix!r}")
    return matches[0]


SLEEPING_LINE = _fragment("You are sleeping").strip()
DEAD_LINE = _fragment("You died").strip()
SEE_HEADER = _fragment("You see:").removesuffix("\n{}")
SEE_NOTHING = _fragment("You see nothing")
FACE_TEMPLATE = _fragment("You face {}")
OUT_OF_MAP = _fragment("Error, ")
STATUS_HEADER = _fragment("Your status:").removesuffix("\n{}")
INVENTORY_HEADER = _fragment("Your inventory:").removesuffix("\n{}")
EMPTY_INVENTORY = _fragment("You have nothing")


def place_phrase(dx: int, dy: int) -> str:
    """Where (dx, dy) is from the centre, y growing southwards."""
    words = []
    if dy < 0:
        words.append("north")
    elif dy > 0:
        words.append("south")
    if dx < 0:
        words.append("west")
    elif dx > 0:
        words.append("east")
    distance = abs(dx) + abs(dy)
    return f"{distance} step{'s' if distance > 1 else ''} to your {'-'.join(words)}"


def window(semantic: np.ndarray, position: tuple[int, int]) -> np.ndarray:
    """The reference's slice of the semantic map, indexed [x, y]. Plain
    Python slice arithmetic on purpose: a negative start must wrap as it does
    in the reference."""
    px, py = position
    return semantic[px - _HALF_WIDTH : px + _HALF_WIDTH + 1, py - _ROWS_ABOVE : py + _ROWS_BELOW + 1]


def _sightings(view: np.ndarray) -> list[str]:
    closest: dict[int, tuple[int, str]] = {}  # id -> (distance, place); insertion = first sight
    cx, cy = _CENTRE
    width, height = view.shape
    for x in range(width):
        for y in range(height):
            thing = int(view[x, y])
            if thing == PLAYER_ID:
                continue
            distance = abs(x - cx) + abs(y - cy)
            if thing not in closest or distance < closest[thing][0]:
                closest[thing] = (distance, place_phrase(x - cx, y - cy))
    return [f"- {ID_NAMES[thing]} {place}" for thing, (_, place) in closest.items()]


def _facing_line(view: np.ndarray, facing: tuple[int, int]) -> str:
    tx, ty = _CENTRE[0] + facing[0], _CENTRE[1] + facing[1]
    width, height = view.shape
    target = ID_NAMES[int(view[tx, ty])] if 0 <= tx < width and 0 <= ty < height else "nothing"
    return FACE_TEMPLATE.format(target)


def long_term(
    semantic: np.ndarray, position: tuple[int, int], facing: tuple[int, int], *, sleeping: bool, dead: bool
) -> str:
    if int(semantic[position]) != PLAYER_ID:
        return OUT_OF_MAP  # the reference's fallback when its own assertion fails
    view = window(semantic, position)
    seen = _sightings(view)
    surroundings = f"{SEE_HEADER}\n" + "\n".join(seen) if seen else SEE_NOTHING
    body = f"{surroundings}\n\n{_facing_line(view, facing)}"
    status = SLEEPING_LINE if sleeping else DEAD_LINE if dead else ""
    return f"{status}\n\n\n\n{body}" if status else body


def short_term(inventory: Mapping[str, int]) -> str:
    vitals = "\n".join(f"- {name}: {inventory[name]}/{MAX_VITAL}" for name in VITALS)
    held = [f"- {name}: {inventory[name]}" for name in ITEMS if name not in VITALS and inventory[name] != 0]
    items = f"{INVENTORY_HEADER}\n" + "\n".join(held) if held else EMPTY_INVENTORY
    return f"{STATUS_HEADER}\n{vitals}\n\n{items}"


# ----- the format of a logged observation ---------------------------------------------
_NAME = "|".join(re.escape(name) for name in ID_NAMES if name != "player")
_DIRECTION = r"(?:(?:north|south)(?:-(?:west|east))?|west|east)?"
_SIGHTING = rf"- (?:{_NAME}) \d+ steps? to your {_DIRECTION}"
_FEEDBACK = (
    # since BALROG c347aa8 (2025-01-28)
    re.escape(feedback_prefix("Noop"))
    # the 2024 evaluators' line
    + r"|\n\nYour previous output action: '(?s:.*?)' is not a valid action\. Defaulted to action: Noop\n"
)
_FACING = re.escape(FACE_TEMPLATE).replace(re.escape("{}"), f"(?:{_NAME}|nothing)")
_STATUS = f"(?:{re.escape(SLEEPING_LINE)}|{re.escape(DEAD_LINE)})\n\n\n\n"
_SURROUNDINGS = f"(?:{re.escape(SEE_HEADER)}(?:\n{_SIGHTING})+|{re.escape(SEE_NOTHING)})"
_OBSERVATION = re.compile(
    f"(?:{_FEEDBACK})?(?P<body>(?:{_STATUS})?{_SURROUNDINGS}\n\n{_FACING}|{re.escape(OUT_OF_MAP)})"
)


def log_format_ok(text: str) -> bool:
    """Whether a logged long-term text has the reference's form: optional
    invalid-action line, optional sleeping/dead line, the sightings (each
    kind at most once) and the facing line."""
    match = _OBSERVATION.fullmatch(text)
    if match is None:
        return False
    names = [line[2:].split(" ", 1)[0] for line in match["body"].split("\n") if line.startswith("- ")]
    return len(names) == len(set(names))
