"""Crafter exactly as the reference BALROG evaluator shows it to a model.

BALROG@af7d1f1 builds ``crafter.Env(area=(64, 64), view=(9, 9),
size=(256, 256), reward=True, seed=<crafter_kwargs.seed>)`` (crafter's own
``length`` of 10,000 is never reached) and caps episodes at 2,000 steps.
Its wrapper steps one Noop inside ``reset``; ``reset(seed=...)`` does not
reach crafter (gym's default ``seed`` hook does nothing), so the world is
``crafter.Env(seed=crafter_world_seed)``'s first one whatever the episode
seed. The reference's default is no seed at all (an unreplayable world);
here ``crafter_world_seed`` is an option pinned at construction, ``None``
meaning "the episode's seed" (the golden cases use exactly that).

Same world, rules, steps, progression and frames as ``games.crafter.adapter``
(the balrogweb protocol), but:

* texts: the reference's (``games.crafter.refdescribe``);
* the world's random stream advances as in the reference: crafter draws a
  night-noise texture from the *world's* generator whenever it renders in
  the dark (daylight < 0.5: steps 148-272 of every 300), and the
  reference renders twice per step at 256 px (crafter's own observation in
  ``step`` and the wrapper's VLM image). The balrogweb engine renders
  without touching that stream, so after dusk its creatures would take other
  paths; here the same draws are made (and the second one is kept, so
  ``render_png`` is the reference's very image).

One thing stays open: crafter's creature balancing iterates a ``set`` ordered
by memory address, so the reference does not reproduce itself after some
steps (the golden cases' ``stable_texts``); we use the engine's canonical
order (``ReproducibleCrafter``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import crafter
import numpy as np

from games.base import ModelObservation
from games.crafter.adapter import CrafterAdapter
from games.crafter.engine import ReproducibleCrafter, crafter_version
from games.crafter.refdescribe import log_format_ok, long_term, short_term
from games.jsontypes import JSONObject, JSONValue
from reference.prompts import instruction

#: the reference cannot replay a logged Crafter world (created with ``seed: null``)
LOGS_FORMAT_ONLY = True
#: crafter's night: the renderer adds noise below this daylight
_NIGHT_BELOW = 0.5
#: renders per step in the reference: crafter's ``step`` observation, then the wrapper's image
_RENDERS_PER_STEP = 2

__all__ = ["LOGS_FORMAT_ONLY", "ReferenceCrafter", "ReferenceCrafterAdapter", "log_format_ok", "log_options"]


class _KeptNoise:
    """Stands in for the world's generator while the VLM image is drawn:
    hands crafter's renderer the noise the reference drew for that image."""

    def __init__(self, noise: np.ndarray) -> None:
        self._noise = noise

    def uniform(self, low: float, high: float, size: tuple[int, ...]) -> np.ndarray:
        if tuple(size) != self._noise.shape:
            raise ValueError(f"kept night noise is {self._noise.shape}, the renderer asks for {size}")
        return self._noise


class ReferenceCrafter(ReproducibleCrafter):
    """The engine with the reference's draws from the world's generator."""

    def __init__(self) -> None:
        super().__init__()
        # crafter's LocalView canvas: its grid (9x7) times the unit size // view
        unit = np.asarray(self._size) // np.asarray(self._view)
        width, height = (int(n) for n in np.asarray(self._local_view._grid) * unit)
        self._noise_shape = (width, height)
        self._image_noise: np.ndarray | None = None

    def reset(self) -> None:
        super().reset()
        self._image_noise = self._render_draw()  # crafter's own observation at reset

    def step(self, action: int) -> Any:
        result = super().step(action)
        noise = None
        for _ in range(_RENDERS_PER_STEP):
            noise = self._render_draw()
        self._image_noise = noise
        return result

    def _render_draw(self) -> np.ndarray | None:
        """What one 256 px render takes from the world's generator."""
        if self._world.daylight >= _NIGHT_BELOW:
            return None
        noise: np.ndarray = self._world.random.uniform(32, 127, self._noise_shape)
        return noise

    def render(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """The reference's image at its own size; any other size as the base engine draws it."""
        if size is not None and tuple(size) != tuple(int(n) for n in self._size):
            return super().render(size)
        world = self._world
        shared = world.random
        if self._image_noise is not None:
            world.random = _KeptNoise(self._image_noise)
        elif world.daylight < _NIGHT_BELOW:
            return super().render(size)  # no kept draw (cannot happen after a step): a private one
        try:
            image: np.ndarray = crafter.Env.render(self, tuple(int(n) for n in self._size))
        finally:
            world.random = shared
        return image

    def semantic_map(self) -> np.ndarray:
        """crafter's semantic view: material ids with creature ids over them, [x, y]."""
        semantic: np.ndarray = self._sem_view()
        return semantic


class ReferenceCrafterAdapter(CrafterAdapter):
    adapter_version: ClassVar[str] = "1"

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        # Pinned so a stored episode rebuilds the same world; None: the episode's seed.
        world_seed = self.options.setdefault("crafter_world_seed", None)
        if world_seed is not None and (isinstance(world_seed, bool) or not isinstance(world_seed, int)):
            raise ValueError(f"crafter_world_seed must be an integer or None, not {world_seed!r}")

    @classmethod
    def engine_version(cls) -> str:
        return f"crafter-{crafter_version()}+crafter-reference-adapter-{cls.adapter_version}"

    def _make_game(self) -> ReproducibleCrafter:
        return ReferenceCrafter()

    def _world_seed(self, seed: int) -> int:
        world_seed = self.options["crafter_world_seed"]
        return seed if world_seed is None else int(cast(int | str, world_seed))  # options are JSON

    def _reset(self, seed: int) -> JSONObject:
        facts = super()._reset(seed)
        facts["crafter_world_seed"] = self._world_seed(seed)
        return facts

    def observation(self) -> ModelObservation:
        game = self._game()
        player = game.player
        text = long_term(
            game.semantic_map(),
            (int(player.pos[0]), int(player.pos[1])),
            (int(player.facing[0]), int(player.facing[1])),
            sleeping=bool(player.sleeping),
            dead=player.health <= 0,
        )
        return ModelObservation(text, short_term(player.inventory))

    def instructions(self) -> str:
        return instruction(self.env, self.task)


def log_options(task: str, seed: int, observations: list[str], submitted: datetime.date) -> JSONObject:
    """The reference's 2024 Crafter worlds were unseeded: nothing in a log
    names one, so a logged episode can only be checked for format
    (``log_format_ok``); the options are the defaults."""
    return {"crafter_world_seed": None}
