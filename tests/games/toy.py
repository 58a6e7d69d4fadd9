"""A tiny deterministic game for testing the episode services in isolation.

A corridor of 6 cells; the player starts at a seed-derived cell in 0..2 and
wins on reaching cell 5. Stepping left from cell 0 falls into a pit (death).
"""

from __future__ import annotations

from typing import Any

from games.base import GameAdapter, KeyBinding, ModelObservation, RawAction, RawOutcome, TaskInfo
from games.progression import PositiveRewardProgression, ProgressionTracker

ACTIONS = ["left", "right", "wait"]


class ToyAdapter(GameAdapter):
    env = "toy"
    default_action = "wait"

    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return [
            TaskInfo("toy", "corridor", "Corridor", "Walk right to the exit.", step_cap=20, episodes_per_task=2),
            TaskInfo("toy", "short", "Short", "A corridor with a 3-step cap.", step_cap=3, episodes_per_task=2),
        ]

    @classmethod
    def key_bindings(cls) -> list[KeyBinding]:
        return [KeyBinding("ArrowLeft", "left"), KeyBinding("ArrowRight", "right"), KeyBinding(" ", "wait")]

    def make_tracker(self) -> ProgressionTracker:
        return PositiveRewardProgression()

    def _reset(self, seed: int) -> dict[str, Any]:
        self.position = seed % 3
        self.closed = False
        return {"start": self.position}

    def _to_raw(self, action: str) -> RawAction:
        return ACTIONS.index(action)

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        assert isinstance(raw, int)
        self.position += {0: -1, 1: 1, 2: 0}[raw]
        if self.position < 0:
            return RawOutcome(0.0, terminated=True, died=True, detail="fell into the pit")
        if self.position >= 5:
            return RawOutcome(1.0, terminated=True, won=True)
        return RawOutcome(0.0)

    def action_space(self) -> list[str]:
        return list(ACTIONS)

    def observation(self) -> ModelObservation:
        return ModelObservation(f"You are at cell {self.position} of 0..5.", "")

    def frame(self) -> dict[str, Any]:
        return {"position": self.position}

    def render_png(self) -> bytes:
        return b""

    def state_bytes(self) -> bytes:
        return bytes([self.position + 1])

    def instructions(self) -> str:
        return "Walk right."

    def close(self) -> None:
        self.closed = True
