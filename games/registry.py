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
from functools import cache
from importlib import import_module
from typing import Any

from games.base import GameAdapter, InvalidTask, TaskInfo

PROTOCOL_BALROG = "balrog"
PROTOCOL_BALROGWEB = "balrogweb"
PROTOCOLS: tuple[str, ...] = (PROTOCOL_BALROG, PROTOCOL_BALROGWEB)
#: what a new episode or run plays unless it asks otherwise
DEFAULT_PROTOCOL = PROTOCOL_BALROG
#: what a stored episode without a protocol option was recorded with
LEGACY_PROTOCOL = PROTOCOL_BALROGWEB

ADAPTER_PATHS: dict[str, str] = {
    "babyai": "games.babyai.adapter.BabyAIAdapter",
    "crafter": "games.crafter.adapter.CrafterAdapter",
    "textworld": "games.textworld.adapter.TextWorldAdapter",
    "babaisai": "games.babaisai.adapter.BabaIsAIAdapter",
    "minihack": "games.nethack.minihack.MiniHackAdapter",
    "nle": "games.nethack.nle.NetHackAdapter",
}
REFERENCE_ADAPTER_PATHS: dict[str, str] = {
    "babyai": "games.babyai.reference.ReferenceBabyAIAdapter",
    "crafter": "games.crafter.reference.ReferenceCrafterAdapter",
    "textworld": "games.textworld.reference.ReferenceTextWorldAdapter",
    "babaisai": "games.babaisai.reference.ReferenceBabaIsAIAdapter",
    "minihack": "games.nethack.reference.ReferenceMiniHackAdapter",
    "nle": "games.nethack.reference.ReferenceNetHackAdapter",
}
ENVS: tuple[str, ...] = tuple(ADAPTER_PATHS)


class UnknownEnv(InvalidTask):
    pass


class UnknownProtocol(InvalidTask):
    pass


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise UnknownProtocol(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    return protocol


def protocol_of(options: Mapping[str, Any] | None) -> str:
    """The protocol stored options were recorded with."""
    return check_protocol(str((options or {}).get("protocol", LEGACY_PROTOCOL)))


@cache
def adapter_class(env: str, protocol: str = PROTOCOL_BALROGWEB) -> type[GameAdapter]:
    paths = REFERENCE_ADAPTER_PATHS if check_protocol(protocol) == PROTOCOL_BALROG else ADAPTER_PATHS
    path = paths.get(env)
    if path is None:
        raise UnknownEnv(f"unknown env {env!r}; known: {', '.join(ENVS)}")
    module_name, class_name = path.rsplit(".", 1)
    cls: type[GameAdapter] = getattr(import_module(module_name), class_name)
    return cls


def make_adapter(env: str, task: str, options: Mapping[str, Any] | None = None) -> GameAdapter:
    """The adapter stored ``options`` describe (their ``protocol`` picks the class)."""
    return adapter_class(env, protocol_of(options))(task, options)


def task_info(env: str, task: str) -> TaskInfo:
    return adapter_class(env).task_by_name(task)


def all_tasks(envs: tuple[str, ...] = ENVS) -> list[TaskInfo]:
    return [info for env in envs for info in adapter_class(env).tasks()]
