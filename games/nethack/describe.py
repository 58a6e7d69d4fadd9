"""The model's text view of an NLE-family screen (NetHack, MiniHack).

BALROG shows models the output of NLE's language wrapper (``nle_language_obsv``,
shipped only in a fork that cannot be installed next to nle 1.3). This module
re-implements that behaviour in Python from its documented rules:

* **message**: the top line, or the whole text window when it is a paged
  message/menu (a row with ``--More--``, ``(end)`` or ``(N of M)``);
* **language observation**: every notable glyph on the map (monsters, objects,
  stairs, doors, fountains...) with its distance (adjacent, very near, near,
  far, very far) and one of 16 compass directions from the player; walls and
  other scenery are found by casting 8 rays of up to 9 squares that stop at
  the first view-blocking square. Lines are sorted far-to-near, then by
  direction, and equal names at the same distance are merged ("horizontal
  walls near north and northeast");
* **cursor**: what the terminal cursor is on ("Yourself a samurai");
* **inventory**: ``letter: item`` lines.

Everything here reads the observation arrays only (never the env), so the
text is a pure function of the arrays the adapter hashes in ``state_bytes``.
Lookup tables are built once per process (a few milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
from nle import nethack as nh

# The map part of NLE's glyph/blstats coordinates.
DUNGEON_WIDTH = 79
DUNGEON_HEIGHT = 21

# NetHack 3.6 defsyms order (display.h S_* symbols), named as NLE's language
# wrapper names them. The index is glyph - GLYPH_CMAP_OFF.
CMAP_NAMES: tuple[str, ...] = (
    "dark area",
    "vertical wall",
    "horizontal wall",
    "northwest room corner",
    "northeast room corner",
    "southwest corner",
    "southeast corner",
    "cross wall",
    "t up wall",
    "t down wall",
    "t west wall",
    "t east wall",
    "doorway",
    "vertical open door",
    "horizontal open door",
    "vertical closed door",
    "horizontal closed door",
    "bars",
    "tree",
    "room floor",
    "dark room floor",
    "corridor floor",
    "lit corridor floor",
    "stairs up",
    "stairs down",
    "ladder up",
    "ladder down",
    "altar",
    "grave",
    "throne",
    "sink",
    "fountain",
    "pool",
    "ice",
    "lava",
    "vertical lowered drawbridge",
    "horizontal lowered drawbridge",
    "vertical raised drawbridge",
    "horizontal raised drawbridge",
    "air floor",
    "cloud floor",
    "water floor",
    "arrow trap",
    "dart trap",
    "falling rock trap",
    "squeaky board",
    "bear trap",
    "land mine",
    "rolling boulder trap",
    "sleeping gas trap",
    "rust trap",
    "fire trap",
    "pit",
    "spiked pit",
    "hole",
    "trap door",
    "teleportation trap",
    "level teleporter",
    "magic portal",
    "web",
    "statue trap",
    "magic trap",
    "anti magic trap",
    "polymorph trap",
    "vibrating square",
    "vertical beam",
    "horizontal beam",
    "left slant beam",
    "right slant beam",
    "dig beam",
    "flash beam",
    "boom left",
    "boom right",
    "shield 1",
    "shield 2",
    "shield 3",
    "shield 4",
    "poison cloud",
    "valid position",
    "swallow top left",
    "swallow top center",
    "swallow top right",
    "swallow middle left",
    "swallow middle right",
    "swallow bottom left",
    "swallow bottom center",
    "swallow bottom right",
)
# Anchors checked against nle's own symbol table (tests): index -> NetHack's explanation.
CMAP_ANCHORS = {17: "iron bars", 24: "staircase down", 31: "fountain", 42: "arrow trap", 77: "poison cloud"}

FLOOR = frozenset({"room floor", "dark room floor", "corridor floor", "lit corridor floor"})
# Scenery listed wherever it is on the map (the rest is found by the rays).
NOTABLE_SCENERY = frozenset(
    {
        "horizontal closed door",
        "vertical closed door",
        "bars",
        "tree",
        "stairs up",
        "stairs down",
        "ladder up",
        "ladder down",
        "altar",
        "grave",
        "throne",
        "sink",
        "fountain",
        "pool",
        "ice",
        "lava",
        "vertical raised drawbridge",
        "horizontal raised drawbridge",
    }
)
# A ray stops at the first of these: darkness and every wall (the first
# twelve defsyms, "dark area" through "t east wall"), closed doors and raised
# drawbridges.
BLOCKING = frozenset(CMAP_NAMES[:12]) | {
    "horizontal closed door",
    "vertical closed door",
    "horizontal raised drawbridge",
    "vertical raised drawbridge",
}
EXPLOSION_NAMES = (
    "explosion top left",
    "explosion top center",
    "explosion top right",
    "explosion middle left",
    "explosion middle center",
    "explosion middle right",
    "explosion bottom left",
    "explosion bottom center",
    "explosion bottom right",
)
ZAP_NAMES = ("horizontal zap beam", "vertical zap beam", "left slant zap beam", "right slant zap beam")
SWALLOW_NAMES = CMAP_NAMES[79:87]
WARNING_NAMES = tuple(
    f"unknown creature causing you {feeling}"
    for feeling in ("worry", "concern", "anxiety", "disquiet", "alarm", "dread")
)

DISTANCE_ORDER = ("very far", "far", "near", "very near", "adjacent")
DIRECTION_ORDER = (
    "north",
    "northnortheast",
    "northeast",
    "eastnortheast",
    "east",
    "eastsoutheast",
    "southeast",
    "southsoutheast",
    "south",
    "southsouthwest",
    "southwest",
    "westsouthwest",
    "west",
    "westnorthwest",
    "northwest",
    "northnorthwest",
)
_DIRECTION_RANK = {name: rank for rank, name in enumerate(DIRECTION_ORDER)}
_DISTANCE_RANK = {name: rank for rank, name in enumerate(DISTANCE_ORDER)}
# The 8 rays: (dx, dy) in screen coordinates (dy grows southwards).
RAYS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
RAY_LENGTH = 9


# ----- glyph names ---------------------------------------------------------------
def _object_name(otyp: int) -> str:
    klass = nh.objclass(otyp).oc_class
    oc_class = ord(klass) if isinstance(klass, str) else int(klass)
    descr = nh.objdescr.from_idx(otyp)
    name = descr.oc_name or ""
    appearance = descr.oc_descr or ""
    named_by_appearance = {
        nh.ARMOR_CLASS: appearance or name,
        nh.TOOL_CLASS: appearance or name,
        nh.RING_CLASS: f"{appearance} ring",
        nh.POTION_CLASS: f"{appearance} potion",
        nh.SCROLL_CLASS: f"scroll labeled {appearance}",
        nh.SPBOOK_CLASS: f"{appearance} spellbook",
        nh.WAND_CLASS: f"{appearance} wand",
        nh.FOOD_CLASS: name + appearance,
        nh.VENOM_CLASS: f"splash of {name}",
    }
    if oc_class in named_by_appearance:
        return named_by_appearance[oc_class]
    if oc_class == nh.AMULET_CLASS:
        return appearance if "Amulet" in appearance else f"{appearance} amulet"
    if oc_class == nh.GEM_CLASS:
        return name if appearance in name else f"{appearance} {name}"
    plain = {nh.ILLOBJ_CLASS, nh.WEAPON_CLASS, nh.COIN_CLASS, nh.ROCK_CLASS, nh.BALL_CLASS, nh.CHAIN_CLASS}
    return name if oc_class in plain else ""


def _monster(index: int) -> str:
    return str(nh.permonst(index).mname)


def _notable_name(glyph: int) -> str:
    """The name of a glyph listed wherever it is on the map ("" if none)."""
    if glyph >= nh.GLYPH_STATUE_OFF:
        return f"{_monster(glyph - nh.GLYPH_STATUE_OFF)} statue"
    if glyph >= nh.GLYPH_WARNING_OFF:
        return str(WARNING_NAMES[(glyph - nh.GLYPH_WARNING_OFF) % len(WARNING_NAMES)])
    if glyph >= nh.GLYPH_SWALLOW_OFF:
        return str(SWALLOW_NAMES[(glyph - nh.GLYPH_SWALLOW_OFF) % len(SWALLOW_NAMES)])
    if glyph >= nh.GLYPH_ZAP_OFF:
        return ZAP_NAMES[(glyph - nh.GLYPH_ZAP_OFF) % len(ZAP_NAMES)]
    if glyph >= nh.GLYPH_EXPLODE_OFF:
        return EXPLOSION_NAMES[(glyph - nh.GLYPH_EXPLODE_OFF) % len(EXPLOSION_NAMES)]
    if glyph >= nh.GLYPH_CMAP_OFF:
        name = CMAP_NAMES[glyph - nh.GLYPH_CMAP_OFF]
        return name if name in NOTABLE_SCENERY else ""
    if glyph >= nh.GLYPH_OBJ_OFF:
        return _object_name(glyph - nh.GLYPH_OBJ_OFF)
    if glyph >= nh.GLYPH_RIDDEN_OFF:
        return f"ridden {_monster(glyph - nh.GLYPH_RIDDEN_OFF)}"
    if glyph >= nh.GLYPH_BODY_OFF:
        return f"{_monster(glyph - nh.GLYPH_BODY_OFF)} corpse"
    if glyph >= nh.GLYPH_DETECT_OFF:
        return f"detected {_monster(glyph - nh.GLYPH_DETECT_OFF)}"
    if glyph >= nh.GLYPH_INVIS_OFF:
        return "invisible creature"
    if glyph >= nh.GLYPH_PET_OFF:
        return f"tame {_monster(glyph - nh.GLYPH_PET_OFF)}"
    return _monster(glyph - nh.GLYPH_MON_OFF)


def _scenery_name(glyph: int) -> str:
    """The name of a glyph the rays report (walls, doorways, traps...), else ""."""
    if not nh.GLYPH_CMAP_OFF <= glyph < nh.GLYPH_EXPLODE_OFF:
        return ""
    name = CMAP_NAMES[glyph - nh.GLYPH_CMAP_OFF]
    return "" if name in FLOOR or name in NOTABLE_SCENERY else name


@dataclass(frozen=True)
class GlyphTables:
    notable: tuple[str, ...]  # glyph -> name listed map-wide ("" if not notable)
    scenery: tuple[str, ...]  # glyph -> name the rays report ("" if none)
    notable_mask: np.ndarray  # bool per glyph: notable != ""
    plurals: dict[str, str]


@cache
def glyph_tables() -> GlyphTables:
    notable = tuple(_notable_name(glyph) for glyph in range(nh.MAX_GLYPH))
    scenery = tuple(_scenery_name(glyph) for glyph in range(nh.MAX_GLYPH))
    mask = np.array([bool(name) for name in notable], dtype=bool)
    plurals = {name: pluralize(name) for name in set(notable) | set(scenery) if name}
    return GlyphTables(notable, scenery, mask, plurals)


def pluralize(noun: str) -> str:
    mass_suffixes = ("boots", "shoes", "scales", "lenses", "bars")
    if noun.endswith(mass_suffixes):
        return noun
    exceptions = {
        "can of grease": "cans of grease",
        "Master of Thieves": "Masters of Thieves",
        "ice": "area of ice",
        "lava": "area of lava",
    }
    if noun in exceptions:
        return exceptions[noun]
    for prefix, plural_prefix in (
        ("boom ", "booms "),
        ("shield ", "shields "),
        ("swallow ", "swallows "),
        ("scroll ", "scrolls "),
        ("worthless piece ", "worthless pieces "),
        ("unknown creature ", "unknown creatures "),
    ):
        if noun.startswith(prefix):
            return plural_prefix + noun[len(prefix) :]
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("z", "x", "ch", "sh", "ss", "s")):
        return noun + "es"
    if noun.endswith("ff"):
        return noun[:-2] + "ves"
    if noun.endswith("f"):
        return noun[:-1] + "ves"
    return noun + "s"


# ----- positions -------------------------------------------------------------
def distance_word(steps: int) -> str:
    if steps == 1:
        return "adjacent"
    if steps == 2:
        return "very near"
    if steps <= 5:
        return "near"
    if steps <= 19:
        return "far"
    return "very far"


def direction_word(dx: int, north: int) -> str:
    """16-wind direction of an offset (``north`` grows upwards): the diagonal
    part names the octant, what is left over picks the nearer axis."""
    diagonal_steps = min(abs(dx), abs(north))
    diagonal = ""
    if diagonal_steps:
        vertical = "north" if north > 0 else "south"
        horizontal = "east" if dx > 0 else "west"
        diagonal = vertical + horizontal
    rest_x = dx - diagonal_steps if dx > 0 else dx + diagonal_steps
    rest_north = north - diagonal_steps if north > 0 else north + diagonal_steps
    horizontal_rest = "east" if rest_x > 0 else "west" if rest_x < 0 else ""
    vertical_rest = "north" if rest_north > 0 else "south" if rest_north < 0 else ""
    return vertical_rest + horizontal_rest + diagonal


@cache
def _offset_words() -> dict[tuple[int, int], tuple[str, str]]:
    """(dx, dy) on screen -> (distance, direction), for every on-map offset."""
    words = {}
    for dx in range(-DUNGEON_WIDTH, DUNGEON_WIDTH + 1):
        for dy in range(-DUNGEON_HEIGHT, DUNGEON_HEIGHT + 1):
            if dx or dy:
                words[dx, dy] = (distance_word(max(abs(dx), abs(dy))), direction_word(dx, -dy))
    return words


# ----- the language observation ------------------------------------------------
Sighting = tuple[str, str, str]  # (name, distance, direction)


def _map_wide_sightings(glyphs: np.ndarray, px: int, py: int) -> list[Sighting]:
    tables = glyph_tables()
    words = _offset_words()
    flat = glyphs.reshape(-1)
    found: list[Sighting] = []
    for index in np.flatnonzero(tables.notable_mask[flat]).tolist():
        y, x = divmod(index, DUNGEON_WIDTH)
        if x == px and y == py:
            continue  # the player
        distance, direction = words[x - px, y - py]
        found.append((tables.notable[flat[index]], distance, direction))
    return found


def _ray_sightings(glyphs: np.ndarray, px: int, py: int) -> list[Sighting]:
    tables = glyph_tables()
    words = _offset_words()
    found: list[Sighting] = []
    for dx, dy in RAYS:
        for step in range(1, RAY_LENGTH + 1):
            x, y = px + dx * step, py + dy * step
            if not (0 <= x < DUNGEON_WIDTH and 0 <= y < DUNGEON_HEIGHT):
                break
            glyph = int(glyphs[y, x])
            name = tables.scenery[glyph]
            if not name:
                continue  # floor, or something already listed map-wide
            distance, direction = words[dx * step, dy * step]
            found.append((name, distance, direction))
            if name in BLOCKING:
                break
    return found


def _sort_far_to_near(sightings: list[Sighting]) -> list[Sighting]:
    # Stable: equal (distance, direction) keep their discovery order.
    return sorted(sightings, key=lambda s: (_DISTANCE_RANK[s[1]], _DIRECTION_RANK[s[2]]))


def _join_directions(directions: list[str]) -> str:
    if len(directions) == 1:
        return directions[0]
    if len(directions) == 2:
        return f"{directions[0]} and {directions[1]}"
    return ", ".join(directions[:-1]) + f", and {directions[-1]}"


def _merge_by_name(sightings: list[Sighting]) -> list[str]:
    """One line per (name, distance): single things keep their name; a
    direction that holds several of them uses the plural."""
    plurals = glyph_tables().plurals
    groups: dict[tuple[str, str], list[str]] = {}
    for name, distance, direction in sightings:
        groups.setdefault((name, distance), []).append(direction)
    lines: list[str] = []
    for (name, distance), directions in groups.items():
        counts: dict[str, int] = {}
        for direction in directions:
            counts[direction] = counts.get(direction, 0) + 1
        singles = [d for d, n in counts.items() if n == 1]
        several = [d for d, n in counts.items() if n > 1]
        if singles:
            lines.append(f"{name} {distance} {_join_directions(singles)}")
        if several:
            lines.append(f"{plurals.get(name, name)} {distance} {_join_directions(several)}")
    return lines


def describe_surroundings(glyphs: np.ndarray, blstats: np.ndarray) -> str:
    px, py = int(blstats[nh.NLE_BL_X]), int(blstats[nh.NLE_BL_Y])
    sightings = _map_wide_sightings(glyphs, px, py) + _ray_sightings(glyphs, px, py)
    return "\n".join(_merge_by_name(_sort_far_to_near(sightings)))


def describe_cursor(glyphs: np.ndarray, blstats: np.ndarray, cursor: np.ndarray) -> str:
    """What the terminal cursor rests on, relative to the player."""
    px, py = int(blstats[nh.NLE_BL_X]), int(blstats[nh.NLE_BL_Y])
    x, y = int(cursor[1]), int(cursor[0]) - 1  # the map starts on terminal row 1
    if not (0 <= x < DUNGEON_WIDTH and 0 <= y < DUNGEON_HEIGHT) or (x == 0 and y == 0):
        return ""
    name = glyph_tables().notable[int(glyphs[y, x])]
    if x == px and y == py:
        return f"Yourself a {name}"
    distance, direction = _offset_words()[x - px, y - py]
    return f"{distance} {direction} {name}"


# ----- message, inventory, map --------------------------------------------------
def _is_page_end(row: str) -> bool:
    """A text window's last row: --More--, (end) or a page counter (N of M)."""
    if "--More--" in row or "(end)" in row:
        return True
    at = row.find(" of ")
    return at >= 2 and row[at - 2] == "(" and row[at + 5 : at + 6] == ")"


def screen_rows(tty_chars: np.ndarray) -> list[str]:
    text = tty_chars.tobytes().decode("latin-1")
    width = tty_chars.shape[1]
    return [text[start : start + width] for start in range(0, len(text), width)]


def message_text(rows: list[str]) -> str:
    """The top-line message; when a text window (menu, paged message) covers
    the screen, all its rows down to the one that ends the page."""
    first = rows[0]
    stripped = first.strip()
    if not stripped:
        return ""
    indent = len(first) - len(first.lstrip(" "))
    window: list[str] = []
    for row in rows:
        line = row[indent:].strip()
        window.append(line)
        if _is_page_end(line):
            return "\n".join(window)
    return stripped


def inventory_text(inv_letters: np.ndarray, inv_strs: np.ndarray) -> str:
    lines = []
    for letter, text in zip(inv_letters.tolist(), inv_strs, strict=False):
        if letter == 0:
            break
        item = text.tobytes().split(b"\0", 1)[0].decode("latin-1")
        lines.append(f"{chr(letter)}: {item}")
    return "\n".join(lines)


def map_text(rows: Iterable[str]) -> str:
    """The terminal below the message line (map and bottom lines), one line per row."""
    return "\n".join(row.rstrip() for row in list(rows)[1:])
