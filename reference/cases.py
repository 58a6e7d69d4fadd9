"""Play golden-shaped cases on the reference protocol.

A case is ``{"env", "task", "seed", "knobs", "actions"}``: the answers a
model gave, in order. Playing it does what BALROG's evaluator does: reset
from the seed, build the instruction, then for every answer check it
against the accepted actions (an invalid one runs the default action and
the next long-term text starts with the reference's feedback line), until
the episode ends. The result carries the instruction and every
``{"long_term", "short_term"}`` text: the shape of the golden file.

``knobs`` are the choices the reference leaves open (golden README):
``clock_utc`` (NetHack's clock), ``boxoban_level`` (``FILE:N``),
``tw_game_index`` and ``crafter_world_seed``. They become adapter options.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from games.base import GameAdapter, ModelObservation
from games.registry import PROTOCOL_BALROG, make_adapter
from reference.prompts import feedback_prefix, instruction

KNOBS: tuple[str, ...] = ("clock_utc", "boxoban_level", "tw_game_index", "crafter_world_seed")


@dataclass
class PlayedCase:
    instruction: str
    observations: list[dict[str, str]] = field(default_factory=list)
    valid: list[bool] = field(default_factory=list)
    progression: float = 0.0
    done: bool = False
    steps: int = 0


def reference_options(knobs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"protocol": PROTOCOL_BALROG}
    for key, value in (knobs or {}).items():
        if key not in KNOBS:
            raise ValueError(f"unknown knob {key!r}; known: {', '.join(KNOBS)}")
        options[key] = value
    return options


def start(env: str, task: str, seed: int, knobs: Mapping[str, Any] | None = None) -> GameAdapter:
    adapter = make_adapter(env, task, reference_options(knobs))
    adapter.reset(seed)
    return adapter


def texts(observation: ModelObservation, feedback: str = "") -> dict[str, str]:
    return {"long_term": feedback + observation.long_term, "short_term": observation.short_term}


def play_steps(adapter: GameAdapter, answers: Sequence[str]) -> Iterator[tuple[bool, dict[str, str]]]:
    """Each answer applied as the reference applies it: (valid, texts after it)."""
    for answer in answers:
        if adapter.done:
            return
        result = adapter.step(answer)
        feedback = "" if result.valid else feedback_prefix(result.action)
        yield result.valid, texts(adapter.observation(), feedback)


def play_case(case: Mapping[str, Any]) -> PlayedCase:
    adapter = start(case["env"], case["task"], int(case["seed"]), case.get("knobs"))
    try:
        played = PlayedCase(instruction(case["env"], case["task"], adapter.mission()))
        played.observations.append(texts(adapter.observation()))
        for valid, observed in play_steps(adapter, case.get("actions") or []):
            played.valid.append(valid)
            played.observations.append(observed)
        played.progression, played.done, played.steps = adapter.progression, adapter.done, adapter.steps
        return played
    finally:
        adapter.close()
