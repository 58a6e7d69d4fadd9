"""The model's text: what is around and where, what the player faces, vitals
and inventory; and the system-prompt instructions.

The information matches BALROG's Crafter wrapper: it describes the same 9x7
map window the image shows, skips the ground (grass, sand, path), gives each
thing's offset in steps north/south and east/west, says what the player
faces, and splits the text like BALROG: surroundings (and sleep/death) in the
long-term part kept in the history, vitals and inventory in the short-term
part shown only for the current step. The wording is our own, and it is a
little richer where the picture shows more than BALROG's text: every
creature is listed (not only the closest of each kind), ripe plants and the
flight direction of arrows are named, and the ground in front of the player
is named instead of "nothing" (placing needs grass, sand or path there).
"""

from __future__ import annotations

from functools import cache

from crafter import constants

from games.base import ModelObservation
from games.crafter.engine import (
    ACHIEVEMENTS,
    ACTIONS,
    FACING_NAMES,
    ITEMS,
    MAP_VIEW,
    MAX_VITAL,
    NONE,
    TEXTURES,
    VITALS,
)
from games.crafter.view import Snapshot

GROUND = frozenset({"grass", "sand", "path"})

# An arrow's texture shows which way it flies.
_ARROW_FLIGHT = {"arrow-up": "north", "arrow-down": "south", "arrow-left": "west", "arrow-right": "east"}


def _thing_name(texture: str) -> str:
    if texture in _ARROW_FLIGHT:
        return "arrow"
    if texture == "plant-ripe":
        return "ripe plant"
    return texture.replace("_", " ")


_NAMES: tuple[str, ...] = tuple(_thing_name(texture) for texture in TEXTURES)


def _steps(count: int, direction: str) -> str:
    return f"{count} step{'s' if count != 1 else ''} {direction}"


def offset_phrase(dx: int, dy: int) -> str:
    """'2 steps north, 1 step west' for an offset from the player (y grows southwards)."""
    parts = []
    if dy:
        parts.append(_steps(abs(dy), "north" if dy < 0 else "south"))
    if dx:
        parts.append(_steps(abs(dx), "west" if dx < 0 else "east"))
    return ", ".join(parts) if parts else "here"


def _sightings(snapshot: Snapshot) -> list[tuple[int, int, int, str]]:
    """(distance, dy, dx, line) for what the window shows: every creature,
    and the closest cell of each material other than the ground."""
    height, width = snapshot.materials.shape
    cx, cy = MAP_VIEW[0] // 2, MAP_VIEW[1] // 2
    closest: dict[str, tuple[int, int, int]] = {}
    found: list[tuple[int, int, int, str]] = []
    for y in range(height):
        for x in range(width):
            dx, dy = x - cx, y - cy
            distance = abs(dx) + abs(dy)
            if not distance:
                continue  # the player's own cell
            obj = int(snapshot.objects[y, x])
            if obj != NONE:
                texture = TEXTURES[obj]
                flight = _ARROW_FLIGHT.get(texture)
                detail = f", flying {flight}" if flight else ""
                found.append((distance, dy, dx, f"{_NAMES[obj]} {offset_phrase(dx, dy)}{detail}"))
                continue
            mat = int(snapshot.materials[y, x])
            if mat == NONE or TEXTURES[mat] in GROUND or TEXTURES[mat] == "unknown":
                continue
            name = _NAMES[mat]
            if name not in closest or (distance, dy, dx) < closest[name]:
                closest[name] = (distance, dy, dx)
    for name, (distance, dy, dx) in closest.items():
        found.append((distance, dy, dx, f"{name} {offset_phrase(dx, dy)}"))
    found.sort()
    return found


def _facing_line(snapshot: Snapshot) -> str:
    fx, fy = snapshot.facing
    cx, cy = MAP_VIEW[0] // 2, MAP_VIEW[1] // 2
    obj = int(snapshot.objects[cy + fy, cx + fx])
    mat = int(snapshot.materials[cy + fy, cx + fx])
    if obj != NONE:
        target = _NAMES[obj]
    elif mat == NONE:
        target = "the edge of the world"
    else:
        target = _NAMES[mat]
    return f"You face {FACING_NAMES[(fx, fy)]}; in front of you: {target}."


def long_term_text(snapshot: Snapshot) -> str:
    lines: list[str] = []
    if snapshot.dead:
        lines += ["You died.", ""]
    elif snapshot.sleeping:
        lines += ["You are asleep; you cannot act until your energy is full or you are hurt.", ""]
    sightings = _sightings(snapshot)
    if sightings:
        lines.append("You see:")
        lines += [f"- {line}" for *_, line in sightings]
    else:
        lines.append("You see only grass, sand or path around you.")
    lines += ["", _facing_line(snapshot)]
    return "\n".join(lines)


def short_term_text(snapshot: Snapshot) -> str:
    vitals = ", ".join(f"{name} {snapshot.count(name)}/{MAX_VITAL}" for name in VITALS)
    held = [
        f"{name.replace('_', ' ')} {count}"
        for name, count in zip(ITEMS, snapshot.inventory, strict=True)
        if name not in VITALS and count
    ]
    inventory = f"Inventory: {', '.join(held)}." if held else "Inventory: empty."
    return f"Status: {vitals}.\n{inventory}"


def describe(snapshot: Snapshot) -> ModelObservation:
    return ModelObservation(long_term_text(snapshot), short_term_text(snapshot))


# ----- instructions ----------------------------------------------------------
_ACTION_MEANINGS: dict[str, str] = {
    "Noop": "do nothing this step.",
    "Move West": "face west and step there if it is free grass, sand or path.",
    "Move East": "face east and step there if it is free grass, sand or path.",
    "Move North": "face north and step there if it is free grass, sand or path.",
    "Move South": "face south and step there if it is free grass, sand or path.",
    "Do": "interact with what you face: collect a material (if you have the tool it needs), "
    "drink water, attack a creature (eat a cow once it is defeated), eat a ripe plant.",
    "Sleep": "sleep until your energy is full (only when energy is below its maximum).",
}


def _item_list(uses: dict[str, int]) -> str:
    return ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in uses.items())


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _place_line(name: str) -> str:
    info = constants.place[name]
    where = ", ".join(info["where"])
    return f"place {_a(name)} in front of you (uses {_item_list(info['uses'])}; onto {where})."


def _make_line(name: str) -> str:
    info = constants.make[name]
    nearby = " and ".join(_a(thing) for thing in info["nearby"])
    return (
        f"make {_a(name.replace('_', ' '))} (uses {_item_list(info['uses'])}; needs {nearby} "
        "in the 3x3 square around you)."
    )


def _collect_lines() -> list[str]:
    lines = []
    for material, info in constants.collect.items():
        tool = ", ".join(name.replace("_", " ") for name in info["require"]) or "no tool"
        gives = ", ".join(name for name in info["receive"])
        chance = f", with a {round(100 * info['probability'])}% chance" if "probability" in info else ""
        lines.append(f"- {material}: gives {gives}; needs {tool}{chance}.")
    return lines


def action_meaning(action: str) -> str:
    if action in _ACTION_MEANINGS:
        return _ACTION_MEANINGS[action]
    verb, _, thing = action.lower().partition(" ")
    name = thing.replace(" ", "_")
    return _place_line(name) if verb == "place" else _make_line(name)


@cache
def instructions_text() -> str:
    actions = "\n".join(f"- {action}: {action_meaning(action)}" for action in ACTIONS)
    achievements = ", ".join(name.replace("_", " ") for name in ACHIEVEMENTS)
    return "\n".join(
        [
            "You are playing Crafter, a 2D survival and crafting game on a 64x64 grid world with a "
            "day/night cycle. North is up; you see a 9 by 7 window of the map around you.",
            "",
            f"Goal: unlock as many of the {len(ACHIEVEMENTS)} achievements as you can. Your score is the "
            f"share of them unlocked at least once: {achievements}. The episode ends when your health "
            "reaches 0 or after 2000 steps.",
            "",
            "Actions (answer with exactly one action name):",
            actions,
            "",
            "Collecting with Do:",
            *_collect_lines(),
            "",
            "Survival: health, food, drink and energy each go up to 9. Food, drink and energy drop over "
            "time; when any of them is 0 you lose health, otherwise health slowly recovers. Eat cows or "
            "ripe plants, drink water, and sleep when energy is low. Zombies appear on grass, mostly at "
            "night, and hit hard when you are asleep; skeletons live in dark cave tunnels and shoot "
            "arrows. Lava kills at once. Swords make your attacks stronger. Placed stone blocks "
            "creatures; a shelter makes sleeping safer. Saplings come from collecting grass; a planted "
            "sapling ripens after a few hundred steps, but creatures next to it destroy it.",
            "",
            "Each observation lists what you see with its offset from you in steps, what is in front of "
            "you, your vitals and your inventory.",
        ]
    )
