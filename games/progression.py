"""BALROG's per-episode progression rules: one scorer per metric.

Each tracker turns the step stream of one episode into BALROG's progression
number in [0, 1] (shown x100). The rules are those of the reference
evaluator (balrog-protocol.md); they are *not* the games' own scores.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TypedDict

from games.outcome import RawOutcome

NETHACK_TABLE_PATH = Path(__file__).with_name("data") / "nethack_progression.json"
CRAFTER_ACHIEVEMENT_COUNT = 22


class ProgressFacts(TypedDict, total=False):
    """The game facts a tracker reads after each step; each game sets its own."""

    achievements: Mapping[str, int]  # Crafter: its info dict, name -> times unlocked
    score: int  # TextWorld
    max_score: int
    won: bool
    depth: int  # NetHack: Dlvl
    experience_level: int  # NetHack: Xp
    restarted: bool  # Baba Is AI (reference): the step's text shows a reset


class ProgressionTracker(ABC):
    def __init__(self) -> None:
        self.value = 0.0

    def reset(self) -> None:
        self.value = 0.0

    @abstractmethod
    def update(self, *, reward: float, outcome: RawOutcome, facts: ProgressFacts) -> float:
        """Fold one step in; return the progression after it."""


class PositiveRewardProgression(ProgressionTracker):
    """BabyAI and Baba Is AI: 1 once a step gave reward > 0."""

    def update(self, *, reward: float, outcome: RawOutcome, facts: ProgressFacts) -> float:
        if reward > 0:
            self.value = 1.0
        return self.value


class UnitRewardProgression(ProgressionTracker):
    """MiniHack: 1 once a step gave reward >= 1.0."""

    def update(self, *, reward: float, outcome: RawOutcome, facts: ProgressFacts) -> float:
        if reward >= 1.0:
            self.value = 1.0
        return self.value


class CrafterProgression(ProgressionTracker):
    """Crafter: achievements unlocked at least once, over 22.

    ``facts["achievements"]`` is Crafter's info dict (name -> count)."""

    def update(self, *, reward: float, outcome: RawOutcome, facts: ProgressFacts) -> float:
        achievements = facts.get("achievements", {})
        unlocked = sum(1 for count in achievements.values() if count > 0)
        self.value = unlocked / CRAFTER_ACHIEVEMENT_COUNT
        return self.value


class TextWorldProgression(ProgressionTracker):
    """TextWorld: max(score / max_score, 1 if won else 0), as it stands at the end.

    ``facts`` carries ``score``, ``max_score`` and ``won``."""

    def update(self, *, reward: float, outcome: RawOutcome, facts: ProgressFacts) -> float:
        max_score = facts.get("max_score") or 0
        ratio = (facts.get("score", 0) / max_score) if max_score > 0 else 0.0
        self.value = max(float(ratio), 1.0 if facts.get("won") else 0.0)
        return self.value


@cache
def nethack_table() -> dict[str, float]:
    with NETHACK_TABLE_PATH.open(encoding="utf-8") as handle:
        table: dict[str, float] = json.load(handle)["table"]
    return table


class NetHackProgression(ProgressionTracker):
    """NetHack: the highest table value reached for Dlvl:N (depth) and Xp:N
    (experience level), read from the bottom-line stats after every step.

    ``facts`` carries ``depth`` and ``experience_level``; a step with no
    stats (the end screen zeroes them) leaves the value as it was."""

    def update(self, *, reward: float, outcome: RawOutcome, facts: ProgressFacts) -> float:
        table = nethack_table()
        for key in (f"Dlvl:{facts.get('depth', 0)}", f"Xp:{facts.get('experience_level', 0)}"):
            self.value = max(self.value, table.get(key, 0.0))
        return self.value
