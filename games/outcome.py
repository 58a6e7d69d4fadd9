"""What one raw env step reported: read by the adapters' template
(games.base) and by the progression rules (games.progression), so it lives
below both."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawOutcome:
    """What one raw env step reported."""

    reward: float
    terminated: bool = False  # the game itself ended (win, death, game over)
    truncated: bool = False  # the env's own time limit
    won: bool = False
    died: bool = False
    detail: str = ""  # e.g. the cause of death
