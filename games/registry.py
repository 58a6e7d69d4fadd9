"""Where each BALROG env key's adapter lives, per protocol. Imported lazily:
loading nle or textworld costs hundreds of milliseconds and most processes
need one game.

Two protocols (``docs/fidelity.md``):

- ``balrog``: the reference evaluator's own benchmark (balrog-ai/BALROG@af7d1f1):
  its levels for a seed, its observation texts, its action strings. Scores
  of this protocol sit on BALROG's published scale.
- ``balrogweb``: this project's earlier texts and generated assets, kept for
  the episodes recorded with them (an episode whose options name no protocol
  is one of these) and as an option.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module

from games.base import GameAdapter, InvalidTask, TaskInfo
from games.jsontypes import JSONValue

PROTOCOL_BALROG = "balrog"
PROTOCOL_BALROGWEB = "balrogweb"
PROTOCOLS: tuple[str, ...] = (PROTOCOL_BALROG, PROTOCOL_BALROGWEB)
#: what a new episode or run plays unless it asks otherwise
DEFAULT_PROTOCOL = PROTOCOL_BALROG
#: what a stored episode without a protocol option was recorded with
LEGACY_PROTOCOL = PROTOCOL_BALROGWEB


@dataclass(frozen=True)
class GameModules:
    """Where a game's two adapter classes live, as ``module.Class`` under its
    package (imported on first use)."""

    package: str
    adapter: str  # the balrogweb protocol's; it declares the game's title, tasks, keys and renderer
    reference: str  # the balrog protocol's (the reference evaluator's texts and levels)

    def path(self, protocol: str) -> str:
        return f"{self.package}.{self.reference if protocol == PROTOCOL_BALROG else self.adapter}"


#: env key -> its adapters: adding a game is its package under games/ plus one line here
GAMES: dict[str, GameModules] = {
    "babyai": GameModules("games.babyai", "adapter.BabyAIAdapter", "reference.ReferenceBabyAIAdapter"),
    "crafter": GameModules("games.crafter", "adapter.CrafterAdapter", "reference.ReferenceCrafterAdapter"),
    "textworld": GameModules("games.textworld", "adapter.TextWorldAdapter", "reference.ReferenceTextWorldAdapter"),
    "babaisai": GameModules("games.babaisai", "adapter.BabaIsAIAdapter", "reference.ReferenceBabaIsAIAdapter"),
    "minihack": GameModules("games.nethack", "minihack.MiniHackAdapter", "reference.ReferenceMiniHackAdapter"),
    "nle": GameModules("games.nethack", "nle.NetHackAdapter", "reference.ReferenceNetHackAdapter"),
}
ENVS: tuple[str, ...] = tuple(GAMES)


class UnknownEnv(InvalidTask):
    pass


class UnknownProtocol(InvalidTask):
    pass


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise UnknownProtocol(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    return protocol


def protocol_of(options: Mapping[str, JSONValue] | None) -> str:
    """The protocol stored options were recorded with."""
    return check_protocol(str((options or {}).get("protocol", LEGACY_PROTOCOL)))


@cache
def adapter_class(env: str, protocol: str = PROTOCOL_BALROGWEB) -> type[GameAdapter]:
    modules = GAMES.get(env)
    if modules is None:
        raise UnknownEnv(f"unknown env {env!r}; known: {', '.join(ENVS)}")
    path = modules.path(check_protocol(protocol))
    module_name, class_name = path.rsplit(".", 1)
    cls: type[GameAdapter] = getattr(import_module(module_name), class_name)
    return cls


def make_adapter(env: str, task: str, options: Mapping[str, JSONValue] | None = None) -> GameAdapter:
    """The adapter stored ``options`` describe (their ``protocol`` picks the class)."""
    return adapter_class(env, protocol_of(options))(task, options)


def task_info(env: str, task: str) -> TaskInfo:
    return adapter_class(env).task_by_name(task)


def all_tasks(envs: tuple[str, ...] = ENVS) -> list[TaskInfo]:
    return [info for env in envs for info in adapter_class(env).tasks()]
