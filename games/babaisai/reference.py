"""Baba Is AI exactly as the reference BALROG evaluator shows it to a model.

The reference plays ``baba.make("env/<task>")`` (nacloos/baba-is-ai@ad466e0)
inside BALROG's ``BabaIsAIWrapper``. This adapter reproduces it:

* levels: ``reference_levels`` makes the package's random draws on a
  ``numpy.random.RandomState(seed)`` of the episode's own (BALROG seeds the
  global legacy RNG with the episode seed right before the reset), and the
  world follows the package's rules (``reference_world``);
* text: ``Active rules:`` then ``Objects on the map:`` with offsets from the
  YOU object, as the wrapper writes them; short-term text is "";
* a broken ``is you`` rule: the wrapper notices it while writing the text,
  resets the env to a NEW level (the same RNG stream continues; the env's
  own step counter restarts, so a later win's reward counts from there) and
  writes the notice, the OLD level's rules, and then, where the objects
  should be, the repr of the new observation dict: a ``defaultdict`` with a
  lambda and a PIL image, both shown with memory addresses (the golden cases
  mask ``0x...``; ours are fixed);
* ends: a win ends the episode (reward ``1 - 0.9 * steps / 100``, steps
  counted since the current level began), and so does the env's own
  100-step limit; the evaluator also stops after 100 steps in all;
* the VLM image is the full grid at 32 px per cell.

Nothing is left open: the adapter has no options.
"""

from __future__ import annotations

import datetime
import struct
from typing import ClassVar

import numpy as np

from games.babaisai.adapter import BabaIsAIAdapter, BabaIsAIHud
from games.babaisai.describe import BabaIsAIFrame
from games.babaisai.reference_levels import generate
from games.babaisai.reference_render import TILE, render_png
from games.babaisai.reference_world import ACTIONS, NAME, World
from games.base import ModelObservation, RawAction, RawOutcome
from games.jsontypes import JSONObject
from games.progression import PositiveRewardProgression, ProgressFacts, ProgressionTracker
from reference.prompts import instruction

RESTART_NOTICE = "[...] IS YOU rule was broken, environment reset"
# Stand-ins for the memory addresses the reference's repr shows (masked in comparisons).
LAMBDA_ADDRESS = "0x7f0000000000"
IMAGE_ADDRESS = "0x7F0000000000"


def level_text(world: World) -> str | None:
    """The wrapper's text for a world, or None when no YOU object is found."""
    rules = world.rules_text()
    player = world.player()
    if player is None:
        return None
    return f"Active rules:\n{rules}\n\nObjects on the map:\n{world.objects_text(player)}"


def reset_repr(text: str, world: World) -> str:
    """repr() of the observation dict the wrapper's nested reset returns."""
    size = f"{world.width * TILE}x{world.height * TILE}"
    return (
        f"defaultdict(<function BabaIsAIWrapper.textworld_process_obsv.<locals>.<lambda> at {LAMBDA_ADDRESS}>, "
        f"{{'text': {{'long_term_context': {text!r}, 'short_term_context': ''}}, "
        f"'image': <PIL.Image.Image image mode=RGB size={size} at {IMAGE_ADDRESS}>}})"
    )


class WrapperProgression(PositiveRewardProgression):
    """BALROG's wrapper sets progression 1 on a winning step, but a reset
    written into that same step's text (the win move also broke ``is you``)
    sets it back to 0; the episode still ends there."""

    def update(self, *, reward: float, outcome: RawOutcome, facts: ProgressFacts) -> float:
        if facts.get("restarted"):
            self.value = 0.0
            return self.value
        return super().update(reward=reward, outcome=outcome, facts=facts)


class ReferenceBabaIsAIAdapter(BabaIsAIAdapter):
    adapter_version: ClassVar[str] = "1"

    def make_tracker(self) -> ProgressionTracker:
        return WrapperProgression()

    def _progress_facts(self) -> ProgressFacts:
        return {"restarted": bool(self._notice)}

    @classmethod
    def engine_version(cls) -> str:
        return f"babaisai-reference-baba-ad466e0+adapter-{cls.adapter_version}"

    # ----- lifecycle -------------------------------------------------------------
    def _reset(self, seed: int) -> JSONObject:
        # The episode's own legacy stream: never numpy's global one.
        self._stream = np.random.RandomState(seed)
        self._layouts = 0
        self._layout_steps = 0
        self._notice = ""
        self._new_layout()
        text = level_text(self.world)
        if text is None:  # every generated level holds "baba is you" and a baba
            raise RuntimeError(f"{self.task}: a fresh level has no YOU object")
        self._text = text
        return {
            "seed": seed,
            "level_source": "generated: games.babaisai.reference_levels (baba@ad466e0 draws)",
            "width": self.world.width,
            "height": self.world.height,
        }

    def _new_layout(self) -> None:
        self.world: World = generate(self.task, self._stream)
        self._layouts += 1
        self._layout_steps = 0

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        action = self._check_raw(raw)
        self._layout_steps += 1
        report = self.world.step(action)
        self._notice = ""
        text = level_text(self.world)
        if text is None:
            text = self._restart()
        self._text = text
        if report.won:
            return RawOutcome(report.reward, terminated=True, won=True, detail="a YOU object reached a WIN object")
        if report.lost:
            return RawOutcome(report.reward, terminated=True, died=True, detail="a YOU object reached a DEFEAT object")
        return RawOutcome(report.reward, truncated=report.done)

    def _restart(self) -> str:
        """The wrapper's reset from inside its text: old rules, new level's dict."""
        old_rules = self.world.rules_text()
        self._new_layout()
        self._notice = RESTART_NOTICE
        nested = level_text(self.world)
        if nested is None:
            raise RuntimeError(f"{self.task}: a fresh level has no YOU object")
        return f"{RESTART_NOTICE}Active rules:\n{old_rules}\n\nObjects on the map:\n{reset_repr(nested, self.world)}"

    # ----- views -------------------------------------------------------------------
    def instructions(self) -> str:
        """The reference's instruction prompt: what a model playing this protocol is told first."""
        return instruction(self.env, self.task)

    def observation(self) -> ModelObservation:
        return ModelObservation(self._text, "")

    def frame(self) -> BabaIsAIFrame:
        """The browser's view, in the shape of ``describe.frame``."""
        world = self.world
        grid = [[[_token(t.kind, t.colour, t.word) for t in world.cells[y * world.width + x]]
                 for x in range(world.width)] for y in range(world.height)]  # fmt: skip
        player = world.player()
        return {
            "width": world.width,
            "height": world.height,
            "grid": grid,
            "rules": [rule.text for rule in world.rules if not rule.replace],
            "player": None if player is None else list(player),
            "notice": self._notice,
            "layout": self._layouts,
        }

    def render_png(self) -> bytes:
        return render_png(self.world)

    def state_bytes(self) -> bytes:
        header = struct.pack(">HH", self._layouts, self._layout_steps)
        return header + self.world.encode() + b"\0" + self._text.encode()

    def hud(self) -> BabaIsAIHud:
        base = super(BabaIsAIAdapter, self).hud()
        rules = [rule.text for rule in self.world.rules if not rule.replace]
        return {**base, "rules": rules, "layout": self._layouts, "layout_steps": self._layout_steps}

    def solution(self) -> list[str]:
        raise NotImplementedError("reference levels carry no verified solution")


def _token(kind: str, colour: str, word: str) -> str:
    """describe.frame_grid's tokens: ``border``, ``ball:green``, ``word:is``."""
    if kind == "wall":
        return "border"
    if kind.startswith("rule_"):
        return f"word:{NAME[word]}"
    return f"{kind.removeprefix('f')}:{colour}"


def log_options(task: str, seed: int, observations: list[str], submitted: datetime.date) -> JSONObject:
    """Options to replay a logged episode: none, the seed alone fixes Baba Is AI."""
    return {}


__all__ = ["ACTIONS", "ReferenceBabaIsAIAdapter", "log_options"]
