"""Text for models and JSON for people, both read from the engine state alone.

The model text copies what BALROG's BabaIsAIWrapper writes (its
``get_ruleset``/``get_text_observation``): the active rules, then each thing
on top of a cell with its offset from the player, in row-major order. Like
BALROG it lists wall, ball, key and door objects and every word tile
(``rule `is` ``), but not baba objects, and words the offsets as BALROG does,
including its "step" (singular) for every left/up offset: models were scored
on that exact wording.
"""

from __future__ import annotations

from typing import TypedDict

from games.babaisai.engine import CODE_CATEGORY, CODE_NAME, CODE_TOKEN, Engine

# Things BALROG names in the observation (its list: fball, fwall, fdoor, fkey and the rule tiles).
LISTED_OBJECTS = frozenset({"wall", "ball", "key", "door"})
RESTART_NOTICE = "[...] IS YOU rule was broken, environment reset"


def player_cell(engine: Engine) -> int | None:
    """The cell offsets are measured from: like BALROG, an object of the kind
    named by the last ``X is you`` rule (here: the last one with an object on
    the map), the first such cell in row-major order."""
    you_cells = engine.you_cells()
    if not you_cells:
        return None
    for kind in reversed(engine.kinds_with("you")):
        for cell in you_cells:
            if CODE_NAME[engine.top(cell)] == kind:
                return cell
    return you_cells[0]


def rules_text(engine: Engine) -> str:
    return "\n".join(rule.text for rule in engine.rules)


def _thing_name(code: int) -> str | None:
    category, name = CODE_CATEGORY[code], CODE_NAME[code]
    if category == "word":
        return f"rule `{name}`"
    if category == "object" and name in LISTED_OBJECTS:
        return name
    return None


def _unit(value: int) -> str:
    # BALROG's helper receives the signed offset: left and up always read "step".
    return "steps" if value > 1 else "step"


def offset_text(name: str, dx: int, dy: int) -> str:
    """BALROG's form_description for one thing (empty when the offset is zero)."""
    horizontal = ""
    if dx > 0:
        horizontal = f"{dx} {_unit(dx)} to the right"
    elif dx < 0:
        horizontal = f"{-dx} {_unit(dx)} to the left"
    vertical = ""
    if dy > 0:
        vertical = f"{dy} {_unit(dy)} down"
    elif dy < 0:
        vertical = f"{-dy} {_unit(dy)} up"
    if horizontal and vertical:
        return f"{name} {horizontal} and {vertical}"
    if horizontal or vertical:
        return f"{name} {horizontal or vertical}"
    return ""


def objects_text(engine: Engine, player: int) -> str:
    width = engine.width
    px, py = player % width, player // width
    lines = []
    for index, stack in enumerate(engine.cells):
        if not stack or index == player:
            continue
        name = _thing_name(stack[-1])
        if name is not None:
            lines.append(offset_text(name, index % width - px, index // width - py))
    return "\n".join(lines)


def observation_text(engine: Engine, *, notice: str = "", with_rules: bool = True) -> str:
    parts = [notice + "\n"] if notice else []
    if with_rules:
        parts.append(f"Active rules:\n{rules_text(engine)}\n\n")
    player = player_cell(engine)
    listing = objects_text(engine, player) if player is not None else "(nothing moves: no YOU object)"
    parts.append(f"Objects on the map:\n{listing}")
    return "".join(parts)


def frame_grid(engine: Engine) -> list[list[list[str]]]:
    """Rows of cells; each cell the tokens of its stack, bottom first
    (``border``, ``ball:green``, ``word:is``...)."""
    tokens = CODE_TOKEN
    width, cells = engine.width, engine.cells
    return [
        [[tokens[code] for code in stack] for stack in cells[row : row + width]] for row in range(0, len(cells), width)
    ]


class BabaIsAIFrame(TypedDict):
    width: int
    height: int
    grid: list[list[list[str]]]  # rows of cells, each a stack of tokens (frame_grid)
    rules: list[str]
    player: list[int] | None  # [x, y]
    notice: str
    layout: int


def frame(engine: Engine, *, notice: str, layout: int) -> BabaIsAIFrame:
    """The browser's view: ``grid`` (rows of cell stacks, see ``frame_grid``),
    the active ``rules`` as text, the ``player`` cell [x, y] offsets are measured
    from (None if no YOU object), BALROG's restart ``notice`` (or ""), and the
    ``layout`` number (1, then +1 for each restart after a broken YOU rule)."""
    player = player_cell(engine)
    return {
        "width": engine.width,
        "height": engine.height,
        "grid": frame_grid(engine),
        "rules": [rule.text for rule in engine.rules],
        "player": None if player is None else list(engine.xy(player)),
        "notice": notice,
        "layout": layout,
    }
