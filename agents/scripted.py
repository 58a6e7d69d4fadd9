"""Scripted baselines: policies that need no model endpoint.

Each picks the next language action from the live adapter. They are
deterministic in their seed, so a scripted episode is reproducible twice
over: from its log (like every episode) and from its agent + seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from games.base import GameAdapter


class ScriptedAgent(Protocol):
    name: str

    def next_action(self) -> str: ...


class RandomAgent:
    """Uniform over the actions valid now (TextWorld: the admissible commands).

    The pick at step i depends only on (seed, i), never on earlier picks, so
    an episode resumed after a crash continues exactly as it would have."""

    name = "random"

    def __init__(self, adapter: GameAdapter, seed: int) -> None:
        self.adapter = adapter
        self.seed = seed

    def next_action(self) -> str:
        actions = self.adapter.action_space()
        if not actions:
            return self.adapter.default_action
        # str seeds hash with SHA-512: stable across processes, unlike hash().
        return random.Random(f"{self.seed}:{self.adapter.steps}").choice(actions)


class BabyAIBot:
    """minigrid's BabyAI bot (games.babyai.bot) as a scripted agent."""

    name = "babyai_bot"

    def __init__(self, adapter: GameAdapter, seed: int) -> None:
        from games.babyai.adapter import BabyAIAdapter
        from games.babyai.bot import BabyAIBotPolicy

        if not isinstance(adapter, BabyAIAdapter):
            raise UnknownAgent("the BabyAI bot only plays babyai tasks")
        self._policy = BabyAIBotPolicy(adapter)

    def next_action(self) -> str:
        return self._policy.next_action()


class UnknownAgent(ValueError):
    pass


SCRIPTED_AGENTS: dict[str, Callable[[GameAdapter, int], ScriptedAgent]] = {
    "random": RandomAgent,
    "babyai_bot": BabyAIBot,
}


def make_scripted_agent(name: str, adapter: GameAdapter, seed: int) -> ScriptedAgent:
    factory = SCRIPTED_AGENTS.get(name)
    if factory is None:
        raise UnknownAgent(f"unknown scripted agent {name!r}; known: {', '.join(SCRIPTED_AGENTS)}")
    return factory(adapter, seed)
