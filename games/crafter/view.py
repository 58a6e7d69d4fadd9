"""What the player observes after a step, captured once and shared by the
model text, the browser frame and the state digest."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from games.crafter.engine import ACHIEVEMENTS, ITEMS, ReproducibleCrafter

_HEADER = b"crafter-state-1"


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The observed state: the 9x7 map window (texture ids, rows north to
    south), the player's facing, sleep and inventory (vitals first), and the
    achievement counts. ``position``, ``step`` and ``daylight`` are shown to
    humans (coordinates, darkness), not to the model."""

    materials: np.ndarray  # (7, 9) int16, -1 outside the world
    objects: np.ndarray  # (7, 9) int16, -1 no object
    position: tuple[int, int]
    facing: tuple[int, int]
    sleeping: bool
    inventory: tuple[int, ...]  # in engine.ITEMS order
    achievements: tuple[int, ...]  # in engine.ACHIEVEMENTS order
    step: int
    daylight: float

    @property
    def health(self) -> int:
        return self.inventory[0]

    @property
    def dead(self) -> bool:
        return self.health <= 0

    def count(self, item: str) -> int:
        return self.inventory[ITEMS.index(item)]

    @property
    def unlocked(self) -> list[str]:
        return [name for name, count in zip(ACHIEVEMENTS, self.achievements, strict=True) if count > 0]

    @cached_property
    def observed_bytes(self) -> bytes:
        """Everything the model text and the frame are drawn from."""
        header = struct.pack(
            "<iiiii?d",
            self.position[0],
            self.position[1],
            self.facing[0],
            self.facing[1],
            self.step,
            self.sleeping,
            self.daylight,
        )
        counts = np.array(self.inventory + self.achievements, np.int32).tobytes()
        return b"".join((_HEADER, header, counts, self.materials.tobytes(), self.objects.tobytes()))


def capture(game: ReproducibleCrafter) -> Snapshot:
    player = game.player
    materials, objects = game.map_window()
    return Snapshot(
        materials=materials,
        objects=objects,
        position=(int(player.pos[0]), int(player.pos[1])),
        facing=(int(player.facing[0]), int(player.facing[1])),
        sleeping=bool(player.sleeping),
        inventory=tuple(int(player.inventory[name]) for name in ITEMS),
        achievements=tuple(int(player.achievements[name]) for name in ACHIEVEMENTS),
        step=game.step_count,
        daylight=round(float(game.world.daylight), 4),
    )
