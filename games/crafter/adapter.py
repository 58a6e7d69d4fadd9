"""The Crafter adapter: BALROG's ``crafter`` env with its one ``default`` task.

A 64x64 world, crafter's 9x9 view (a 9x7 map window over a 9x2 inventory
strip), 2,000 steps at most, ``Noop`` when an answer is not an action, and
BALROG's progression: achievements unlocked at least once, over 22.

Raw actions are crafter's action indices (0-16). Like BALROG's wrapper, each
episode starts with one Noop tick right after the world is generated; it is
part of the reset, not a counted step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, cast

from crafter import objects

from games.base import (
    AdapterStateError,
    Hud,
    IndexedActionsAdapter,
    KeyBinding,
    ModelObservation,
    RawAction,
    RawOutcome,
    TaskInfo,
)
from games.crafter.describe import describe, instructions_text
from games.crafter.engine import (
    ACTIONS,
    AREA,
    BALROG_IMAGE_SIZE,
    FACING_NAMES,
    ITEMS,
    MAP_VIEW,
    TEXTURE_ID,
    TEXTURES,
    VIEW,
    VITALS,
    ReproducibleCrafter,
    check_crafter_tables,
    crafter_version,
)
from games.crafter.view import Snapshot, capture
from games.images import png_bytes
from games.jsontypes import JSONObject, JSONValue
from games.progression import CrafterProgression, ProgressFacts, ProgressionTracker

STEP_CAP = 2000
EPISODES_PER_TASK = 10
NOOP = ACTIONS.index("Noop")
WARMUP_NOOPS = 1  # BALROG's wrapper steps a Noop inside reset()
TEXTURE_FILES: list[str] = [f"{name}.png" for name in TEXTURES]
# Each inventory slot's icon: crafter draws items with the texture of the same name.
_ITEM_TEXTURES: tuple[int, ...] = tuple(TEXTURE_ID[name] for name in ITEMS)
_NECESSITY_DEATHS: dict[tuple[str, ...], str] = {
    ("food",): "starved",
    ("drink",): "died of thirst",
    ("energy",): "died of exhaustion",
}
_SKELETON_RANGE = 10  # arrows fly on after the shot; a skeleton this close may have fired one

check_crafter_tables()


class CrafterPlayer(TypedDict):
    x: int
    y: int
    facing: str
    sleeping: bool
    dead: bool


class CrafterFrame(TypedDict):
    view: list[int]  # the map window, (width, height)
    materials: list[int]  # texture ids, the window's cells row by row
    objects: list[int]
    player: CrafterPlayer
    vitals: dict[str, int]  # health, food, drink, energy
    items: list[list[int]]  # [texture id, count] of each inventory item
    daylight: float
    world: list[int]  # the world's size (width, height)
    textures: list[str]  # texture id -> file name


class CrafterNumbers(TypedDict, total=False):  # once the world exists
    health: int  # the vitals (engine.VITALS)
    food: int
    drink: int
    energy: int
    achievements: list[str]
    achievements_unlocked: int


class CrafterHud(Hud, CrafterNumbers):
    pass


class CrafterAdapter(IndexedActionsAdapter):
    env = "crafter"
    title = "Crafter"
    blurb = "A 2-D Minecraft: survive, gather, craft tools, unlock 22 achievements."
    renderer = "crafter"
    default_action = "Noop"
    actions = ACTIONS
    adapter_version = "1"

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        # Built on the first reset (loading crafter's textures takes ~30 ms) and
        # reused for later episodes.
        self.game: ReproducibleCrafter | None = None
        self._snapshot: Snapshot | None = None
        self._achievements: dict[str, int] = {}

    # ----- catalogue -------------------------------------------------------
    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return [
            TaskInfo(
                env="crafter",
                task="default",
                title="Crafter",
                description="Survive in a 64x64 open world and unlock as many of the 22 achievements as "
                "you can: gather, craft tools, build, eat, drink, sleep and fight.",
                step_cap=STEP_CAP,
                episodes_per_task=EPISODES_PER_TASK,
            )
        ]

    @classmethod
    def key_bindings(cls) -> list[KeyBinding]:
        """Crafter's own GUI keys (crafter.run_gui), with arrows, z and n added."""
        return [
            KeyBinding("w", "Move North", "move north"),
            KeyBinding("a", "Move West", "move west"),
            KeyBinding("s", "Move South", "move south"),
            KeyBinding("d", "Move East", "move east"),
            KeyBinding("ArrowUp", "Move North", "move north"),
            KeyBinding("ArrowLeft", "Move West", "move west"),
            KeyBinding("ArrowDown", "Move South", "move south"),
            KeyBinding("ArrowRight", "Move East", "move east"),
            KeyBinding(" ", "Do", "collect, attack, drink or eat what you face"),
            KeyBinding("Tab", "Sleep", "sleep"),
            KeyBinding("z", "Sleep", "sleep"),
            KeyBinding("n", "Noop", "wait a step"),
            KeyBinding("r", "Place Stone", "place stone"),
            KeyBinding("t", "Place Table", "place table"),
            KeyBinding("f", "Place Furnace", "place furnace"),
            KeyBinding("p", "Place Plant", "plant a sapling"),
            KeyBinding("1", "Make Wood Pickaxe", "make wood pickaxe"),
            KeyBinding("2", "Make Stone Pickaxe", "make stone pickaxe"),
            KeyBinding("3", "Make Iron Pickaxe", "make iron pickaxe"),
            KeyBinding("4", "Make Wood Sword", "make wood sword"),
            KeyBinding("5", "Make Stone Sword", "make stone sword"),
            KeyBinding("6", "Make Iron Sword", "make iron sword"),
        ]

    @classmethod
    def engine_version(cls) -> str:
        return f"crafter-{crafter_version()}+adapter-{cls.adapter_version}"

    # ----- hooks -------------------------------------------------------------
    def make_tracker(self) -> ProgressionTracker:
        return CrafterProgression()

    def _reset(self, seed: int) -> JSONObject:
        if self.game is None:
            self.game = self._make_game()
        game = self.game
        game.reset_world(self._world_seed(seed))
        world_digest = game.world_digest()
        for _ in range(WARMUP_NOOPS):
            game.step(NOOP)
        self._snapshot = None
        self._achievements = dict(game.player.achievements)
        return {
            "world_seed": game.world_seed,
            "world_digest": world_digest,
            "area": list(AREA),
            "view": list(VIEW),
            "warmup_noops": WARMUP_NOOPS,
        }

    def _make_game(self) -> ReproducibleCrafter:
        return ReproducibleCrafter()

    def _world_seed(self, seed: int) -> int:
        """The ``crafter.Env(seed=...)`` whose first world an episode plays."""
        return seed

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        action = self._check_raw(raw)
        game = self._game()
        _, reward, _, info = game.step(action)
        self._snapshot = None
        self._achievements = info["achievements"]
        if game.player.health > 0:
            return RawOutcome(float(reward))
        return RawOutcome(float(reward), terminated=True, died=True, detail=death_cause(game))

    def _progress_facts(self) -> ProgressFacts:
        return {"achievements": self._achievements}

    # ----- views ---------------------------------------------------------------
    def observation(self) -> ModelObservation:
        return describe(self._view())

    def frame(self) -> CrafterFrame:
        view = self._view()
        return {
            "view": list(MAP_VIEW),
            "materials": view.materials.ravel().tolist(),
            "objects": view.objects.ravel().tolist(),
            "player": {
                "x": view.position[0],
                "y": view.position[1],
                "facing": FACING_NAMES[view.facing],
                "sleeping": view.sleeping,
                "dead": view.dead,
            },
            "vitals": {name: view.count(name) for name in VITALS},
            "items": [[texture, count] for texture, count in zip(_ITEM_TEXTURES, view.inventory, strict=True)],
            "daylight": view.daylight,
            "world": list(AREA),
            "textures": TEXTURE_FILES,
        }

    def render_png(self) -> bytes:
        return png_bytes(self._game().render((BALROG_IMAGE_SIZE, BALROG_IMAGE_SIZE)))

    def state_bytes(self) -> bytes:
        return self._view().observed_bytes + self._game().hidden_state_bytes()

    def instructions(self) -> str:
        return instructions_text()

    def hud(self) -> CrafterHud:
        numbers: CrafterNumbers = {}
        if self.game is not None and self.game.player is not None:
            view = self._view()
            # The vitals are engine.VITALS, as the frame's: CrafterNumbers names the same four.
            numbers = cast(CrafterNumbers, {name: view.count(name) for name in VITALS})
            numbers["achievements"] = view.unlocked
            numbers["achievements_unlocked"] = len(view.unlocked)
        return {**super().hud(), **numbers}

    def close(self) -> None:
        self.game = None
        self._snapshot = None

    # ----- internals ---------------------------------------------------------
    def _game(self) -> ReproducibleCrafter:
        if self.game is None or self.game.player is None:
            raise AdapterStateError("crafter used before reset")
        return self.game

    def _view(self) -> Snapshot:
        """The observed state, captured once per step and shared by the views."""
        if self._snapshot is None:
            self._snapshot = capture(self._game())
        return self._snapshot


def death_cause(game: ReproducibleCrafter) -> str:
    """A short cause for a death, inferred from the state right after it
    (crafter does not report one). Checked in order: lava, a zombie's blow
    this step (its cooldown restarts at 5 when it hits), an empty vital whose
    damage counter just fired, a skeleton within arrow range."""
    player = game.player
    world = game.world
    if world[player.pos][0] == "lava":
        return "walked into lava"
    for obj in world.objects:
        if isinstance(obj, objects.Zombie) and player.distance(obj) <= 1 and obj.cooldown == 5:
            return "killed by a zombie"
    empty = tuple(name for name in ("food", "drink", "energy") if player.inventory[name] <= 0)
    if empty == ("energy",) and player.sleeping:
        empty = ()
    if empty and player._recover == 0:
        return _NECESSITY_DEATHS.get(empty, "died of " + " and ".join(_need_word(name) for name in empty))
    for obj in world.objects:
        if isinstance(obj, objects.Skeleton) and player.distance(obj) <= _SKELETON_RANGE:
            return "shot by a skeleton"
    return "health reached 0"


def _need_word(name: str) -> str:
    return {"food": "hunger", "drink": "thirst", "energy": "exhaustion"}[name]
