"""Crafter's env, made reproducible across processes and cheap to step.

``ReproducibleCrafter`` is a subclass of ``crafter.Env`` (crafter 1.8.3) with
three changes, none of which alters the game's rules:

1. Creature balancing. Every 10 steps crafter may despawn one creature of a
   chunk, picked with the world's seeded RNG from a list built by iterating a
   ``set`` of objects, whose order follows object identity (memory
   addresses). The same seed and actions therefore diverge between processes
   (measured: from step 9 to 49). Here each chunk's objects are handed to
   crafter's own balancing code sorted by position; positions are unique (one
   object per cell), so the order is canonical and the pick reproducible.
2. No image per step. Stock ``step`` renders an RGB observation every step
   (~1.6 ms at 64 px, more at BALROG's 256 px) that nothing here reads. At
   night that renderer also draws its noise texture from the *world's* RNG, so
   in this class rendering happens only on demand and uses a private
   generator: drawing a picture never changes the game.
3. One env instance serves many episodes: ``reset_world(seed)`` rebuilds the
   world for ``seed`` exactly as ``crafter.Env(seed=seed).reset()`` would
   (crafter derives the world seed as ``hash((seed, 1)) % (2**31 - 1)``,
   stable for ints in CPython), without reloading textures (~30 ms).

So a seed gives the same generated world as BALROG's ``crafter.Env(seed=...)``;
creature moves after that follow the same rules but a different (and now
reproducible) random stream, because the stock stream depends on object
identity and on the image size.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from functools import cache
from importlib.metadata import version
from typing import Any

import crafter
import numpy as np
from crafter import constants

AREA = (64, 64)
VIEW = (9, 9)  # crafter's view: a 9x7 map window above a 9x2 inventory strip
MAP_VIEW = (9, 7)  # the map window (width, height) the player and the model see
BALROG_IMAGE_SIZE = 256  # BALROG's crafter_kwargs.size: the VLM image

# BALROG's language names, index-aligned with crafter.constants.actions.
ACTIONS: tuple[str, ...] = (
    "Noop",
    "Move West",
    "Move East",
    "Move North",
    "Move South",
    "Do",
    "Sleep",
    "Place Stone",
    "Place Table",
    "Place Furnace",
    "Place Plant",
    "Make Wood Pickaxe",
    "Make Stone Pickaxe",
    "Make Iron Pickaxe",
    "Make Wood Sword",
    "Make Stone Sword",
    "Make Iron Sword",
)
# crafter's own names for them, in crafter's order (crafter/data.yaml)
CRAFTER_ACTIONS: tuple[str, ...] = (
    "noop",
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "do",
    "sleep",
    "place_stone",
    "place_table",
    "place_furnace",
    "place_plant",
    "make_wood_pickaxe",
    "make_stone_pickaxe",
    "make_iron_pickaxe",
    "make_wood_sword",
    "make_stone_sword",
    "make_iron_sword",
)
ITEMS: tuple[str, ...] = tuple(constants.items)  # inventory order; the first four are vitals
VITALS: tuple[str, ...] = ("health", "food", "drink", "energy")
ACHIEVEMENTS: tuple[str, ...] = tuple(constants.achievements)
MATERIALS: tuple[str, ...] = tuple(constants.materials)
MAX_VITAL = int(constants.items["health"]["max"])

# Texture ids used by frame(): index -> crafter asset stem (crafter/assets/<stem>.png).
# Append only: ids are part of the browser contract.
TEXTURES: tuple[str, ...] = (
    *MATERIALS,
    "player-up",
    "player-down",
    "player-left",
    "player-right",
    "player-sleep",
    "cow",
    "zombie",
    "skeleton",
    "arrow-up",
    "arrow-down",
    "arrow-left",
    "arrow-right",
    "plant",
    "plant-ripe",
    *(item for item in ITEMS if item not in MATERIALS),
    *(str(digit) for digit in range(1, 10)),
    "unknown",
)
TEXTURE_ID: dict[str, int] = {name: index for index, name in enumerate(TEXTURES)}
NONE = -1  # no object in a cell / a cell outside the world
ASSETS_DIR = constants.root / "assets"

FACING_NAMES: dict[tuple[int, int], str] = {(0, -1): "north", (0, 1): "south", (-1, 0): "west", (1, 0): "east"}


def check_crafter_tables() -> None:
    """Fail loudly if an installed crafter disagrees with the tables above."""
    if tuple(constants.actions) != CRAFTER_ACTIONS:
        raise RuntimeError(f"crafter's actions changed: {constants.actions}")
    missing = [name for name in TEXTURES if not (ASSETS_DIR / f"{name}.png").is_file()]
    if missing:
        raise RuntimeError(f"crafter assets missing: {missing}")


def _position_key(obj: Any) -> tuple[int, int]:
    return int(obj.pos[0]), int(obj.pos[1])


class ReproducibleCrafter(crafter.Env):  # type: ignore[misc]  # crafter.Env is untyped
    """crafter.Env with reproducible balancing, no per-step image and
    RNG-neutral rendering (see the module docstring)."""

    def __init__(self) -> None:
        # length=None: the adapter's step cap ends episodes, not crafter's own 10,000.
        super().__init__(area=AREA, view=VIEW, size=(BALROG_IMAGE_SIZE, BALROG_IMAGE_SIZE), length=None, seed=0)
        self._material_textures = self._material_texture_table()

    # ----- episodes ----------------------------------------------------------
    def reset_world(self, seed: int) -> None:
        """Generate the world of ``crafter.Env(seed=seed)``'s first episode."""
        self._seed = seed
        self._episode = 0
        self.reset()

    @property
    def world_seed(self) -> int:
        return int(hash((self._seed, self._episode)) % (2**31 - 1))

    @property
    def player(self) -> Any:
        return self._player

    @property
    def world(self) -> Any:
        return self._world

    @property
    def step_count(self) -> int:
        return int(self._step)

    # ----- the three changes ---------------------------------------------------
    def _balance_chunk(self, chunk: tuple[int, int, int, int], objs: Iterable[Any]) -> None:
        super()._balance_chunk(chunk, sorted(objs, key=_position_key))

    def _obs(self) -> None:
        return None

    def render(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """An RGB image, (height, width, 3), as crafter draws it."""
        canvas_size = tuple(int(n) for n in (self._size if size is None else size))
        world = self._world
        shared = world.random
        world.random = np.random.RandomState(self._render_seed())
        try:
            image: np.ndarray = super().render(canvas_size)
        finally:
            world.random = shared
        return image

    def _render_seed(self) -> int:
        return (self.world_seed * 1_000_003 + int(self._step)) % (2**32)

    # ----- state for views and digests ------------------------------------------
    def _material_texture_table(self) -> np.ndarray:
        table = np.full(256, TEXTURE_ID["unknown"], np.int16)
        for material, index in self._world._mat_ids.items():
            if material in TEXTURE_ID:
                table[index] = TEXTURE_ID[material]
        return table

    def map_window(self) -> tuple[np.ndarray, np.ndarray]:
        """Texture ids of the 9x7 map window around the player, as crafter
        draws it: (materials, objects), each shaped (height, width), -1 for
        cells outside the world / without an object."""
        width, height = MAP_VIEW
        x0 = int(self._player.pos[0]) - width // 2
        y0 = int(self._player.pos[1]) - height // 2
        mats = np.full((width, height), NONE, np.int16)
        objs = np.full((width, height), NONE, np.int16)
        ax0, ay0 = max(x0, 0), max(y0, 0)
        ax1, ay1 = min(x0 + width, AREA[0]), min(y0 + height, AREA[1])
        if ax0 < ax1 and ay0 < ay1:
            world = self._world
            mats[ax0 - x0 : ax1 - x0, ay0 - y0 : ay1 - y0] = self._material_textures[world._mat_map[ax0:ax1, ay0:ay1]]
            indices = world._obj_map[ax0:ax1, ay0:ay1]
            for i, j in zip(*np.nonzero(indices), strict=True):
                obj = world._objects[indices[i, j]]
                objs[i + ax0 - x0, j + ay0 - y0] = TEXTURE_ID.get(obj.texture, TEXTURE_ID["unknown"])
        return mats.T, objs.T

    def hidden_state_bytes(self) -> bytes:
        """The whole world beyond the window: materials, object placement, the
        player's hunger/thirst/fatigue/recovery counters and the RNG state.
        Any divergence between two replays shows here at once, not only when
        it reaches the screen."""
        world = self._world
        player = self._player
        _, keys, position, has_gauss, gauss = world.random.get_state()
        counters = struct.pack(
            "<qdddd?q",
            int(self._step),
            float(player._hunger),
            float(player._thirst),
            float(player._fatigue),
            float(player._recover),
            bool(has_gauss),
            int(position),
        )
        return b"".join(
            (
                counters,
                struct.pack("<d", float(gauss)),
                keys.tobytes(),
                world._mat_map.tobytes(),
                world._obj_map.tobytes(),
            )
        )

    def world_digest(self) -> str:
        """Digest of the materials and creatures (kind, position): equal for
        equal worlds whichever noise backend generated them."""
        world = self._world
        placed = sorted((type(obj).__name__, *_position_key(obj)) for obj in world.objects)
        data = world._mat_map.tobytes() + repr(placed).encode()
        return hashlib.blake2b(data, digest_size=16).hexdigest()


@cache
def crafter_version() -> str:
    return version("crafter")
