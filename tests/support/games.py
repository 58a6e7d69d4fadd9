"""The task the tests play most, named once."""

from __future__ import annotations

BABYAI_TASK = "BabyAI-MixedTrainLocal-v0/goto"
BABYAI_TURNS = ["turn left", "turn right"]  # turning in place never ends a BabyAI episode
