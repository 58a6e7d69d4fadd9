"""BabyAI exactly as the reference BALROG evaluator shows it to a model.

Same worlds, actions and rewards as ``games.babyai.adapter`` (the level for a
seed is the fork's), but:

* the long-term text is the BALROG Minigrid fork's descriptions
  (``games.babyai.refdescribe``), no mission line; the short-term text is "";
* the VLM image is the agent's point of view, ``get_pov_render(tile_size=16)``
  (112x112), not the full grid;
* the number of distractors is an option, ``num_dists`` (default 0, what
  BALROG's config says: ``babyai_kwargs.num_dists: 0``). From the public
  BALROG's first commit fba89e2 (2024-11-21) until 9377968 (2024-12-10, "fix:
  babyai read kwargs") those kwargs never reached ``gym.make``, so the fork's
  own default, 8, was played; the 2024-11-15 public submission shows it too,
  while the 2024-10-30 one was played with 0. The texts themselves did not
  change: the fork's descriptions read the same from ad8a66b (2024-10-31) to
  its HEAD cf73dd1. ``log_options`` therefore tells the two apart from the
  objects a log names.

Episodes end where the reference's end: the evaluator plays at most
``env.max_steps`` steps and stops on terminated or truncated, which is the
level's own ``max_steps`` (``num_navs x 64 x rooms``, unchanged in the fork).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import ClassVar

import minigrid
from PIL import Image

from games.babyai.adapter import BabyAIAdapter
from games.babyai.levels import MixedTrainLocalLevel
from games.babyai.refdescribe import long_term
from games.base import ModelObservation
from games.images import png_bytes
from games.jsontypes import JSONObject
from reference.prompts import instruction

#: BALROG's configured distractor count (``envs.babyai_kwargs.num_dists``).
CONFIG_NUM_DISTS = 0
#: The fork's ``Level_MixedTrainLocal`` default, played while BALROG dropped the kwargs.
FORK_NUM_DISTS = 8
#: BALROG 9377968: the first commit that passes ``babyai_kwargs`` to ``gym.make``.
KWARGS_FIX_DATE = datetime.date(2024, 12, 10)
#: The first public submission known to show 8 distractors (2024-10-30 shows 0).
FIRST_FORK_DEFAULT_LOG = datetime.date(2024, 11, 15)
#: The reference's image: the agent's 7x7 view at 16 px a tile.
POV_TILE_SIZE = 16


class ReferenceBabyAIAdapter(BabyAIAdapter):
    adapter_version: ClassVar[str] = "1"

    def _make_level(self) -> MixedTrainLocalLevel:
        # Pinned into the options so a stored episode rebuilds the same worlds.
        num_dists = self.options.setdefault("num_dists", CONFIG_NUM_DISTS)
        if isinstance(num_dists, bool) or not isinstance(num_dists, int) or num_dists < 0:
            raise ValueError(f"num_dists must be a non-negative integer, not {num_dists!r}")
        return MixedTrainLocalLevel(self.family, num_dists=num_dists)

    @classmethod
    def engine_version(cls) -> str:
        return f"minigrid-{minigrid.__version__}+babyai-reference-adapter-{cls.adapter_version}"

    def _reset(self, seed: int) -> JSONObject:
        facts = super()._reset(seed)
        facts["num_dists"] = self.options["num_dists"]
        return facts

    def mission(self) -> str | None:
        """``obs["mission"]``, which the reference puts in its instruction prompt."""
        self._view()  # raises before reset
        return str(self.level.mission)

    def instructions(self) -> str:
        """The reference's own instruction prompt once the mission is known."""
        if self._image is None:
            return super().instructions()
        return instruction(self.env, self.task, self.mission())

    def observation(self) -> ModelObservation:
        return self._cached("reference_observation", self._build_reference_observation)

    def _build_reference_observation(self) -> ModelObservation:
        carrying = self.level.carrying
        held = (carrying.color, carrying.type) if carrying is not None else None
        return ModelObservation(long_term=long_term(self._view(), held), short_term="")

    def render_png(self) -> bytes:
        self._view()  # raises before reset
        return png_bytes(Image.fromarray(self.level.get_pov_render(tile_size=POV_TILE_SIZE)).convert("RGB"))


def log_options(task: str, seed: int, observations: Sequence[str], submitted: datetime.date) -> JSONObject:
    """The options that replay one logged episode of a submission made on
    ``submitted``. Only the distractor count is open (see the module
    docstring): before BALROG's fix either count may have been played. The
    texts decide: the count whose world for ``seed`` gives the first logged
    text after one action, and whose world holds every object the texts
    name. Where both fit (an agent that never saw an object), the texts of
    the two worlds are the same and the date breaks the tie."""
    if submitted >= KWARGS_FIX_DATE:
        return {"num_dists": CONFIG_NUM_DISTS}
    named = named_objects(observations)
    fitting = [
        num_dists
        for num_dists in (CONFIG_NUM_DISTS, FORK_NUM_DISTS)
        if named <= world_objects(task, seed, num_dists)
        and (not observations or _first_text_fits(task, seed, num_dists, observations[0]))
    ]
    if len(fitting) == 1:
        return {"num_dists": fitting[0]}
    return {"num_dists": FORK_NUM_DISTS if submitted >= FIRST_FORK_DEFAULT_LOG else CONFIG_NUM_DISTS}


def _first_text_fits(task: str, seed: int, num_dists: int, logged: str) -> bool:
    """Whether some first action in this world gives the logged text (which
    may start with the feedback line of an invalid answer)."""
    adapter = ReferenceBabyAIAdapter(task, {"num_dists": num_dists})
    try:
        for action in adapter.actions:
            adapter.reset(seed)
            adapter.step(action)
            text = adapter.observation().long_term
            if logged == text or (logged.endswith("\n" + text) and logged.startswith(_FEEDBACK_START)):
                return True
        return False
    finally:
        adapter.close()


# How both the 2024 and the current invalid-action feedback lines begin.
_FEEDBACK_START = "\n\nYour previous output"
# One description line: "a [state] <colour> <type> <distances>" or "You carry a <colour> <type>".
_OBJECT_LINE = re.compile(r"^(?:You carry )?a (?:(?:open|closed|locked) )?(\w+) (key|ball|box|door)\b")


def named_objects(observations: Sequence[str]) -> set[str]:
    """Every "<colour> <type>" the texts name (feedback lines never match)."""
    return {
        f"{match[1]} {match[2]}"
        for text in observations
        for line in text.splitlines()
        if (match := _OBJECT_LINE.match(line))
    }


def world_objects(task: str, seed: int, num_dists: int) -> set[str]:
    """Every "<colour> <type>" of the task's world for ``seed`` (walls aside)."""
    level = MixedTrainLocalLevel(task.split("/", 1)[1], num_dists=num_dists)
    try:
        level.reset(seed=seed)
        return {f"{obj.color} {obj.type}" for obj in level.grid.grid if obj is not None and obj.type != "wall"}
    finally:
        level.close()
