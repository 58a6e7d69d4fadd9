"""Where each BALROG env key's adapter lives. Imported lazily: loading nle or
textworld costs hundreds of milliseconds and most processes need one game."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import import_module
from typing import Any

from games.base import GameAdapter, InvalidTask, TaskInfo

ADAPTER_PATHS: dict[str, str] = {
    "babyai": "games.babyai.adapter.BabyAIAdapter",
    "crafter": "games.crafter.adapter.CrafterAdapter",
    "textworld": "games.textworld.adapter.TextWorldAdapter",
    "babaisai": "games.babaisai.adapter.BabaIsAIAdapter",
    "minihack": "games.nethack.minihack.MiniHackAdapter",
    "nle": "games.nethack.nle.NetHackAdapter",
}
ENVS: tuple[str, ...] = tuple(ADAPTER_PATHS)


class UnknownEnv(InvalidTask):
    pass


@cache
def adapter_class(env: str) -> type[GameAdapter]:
    path = ADAPTER_PATHS.get(env)
    if path is None:
        raise UnknownEnv(f"unknown env {env!r}; known: {', '.join(ENVS)}")
    module_name, class_name = path.rsplit(".", 1)
    cls: type[GameAdapter] = getattr(import_module(module_name), class_name)
    return cls


def make_adapter(env: str, task: str, options: Mapping[str, Any] | None = None) -> GameAdapter:
    return adapter_class(env)(task, options)


def task_info(env: str, task: str) -> TaskInfo:
    return adapter_class(env).task_by_name(task)


def all_tasks(envs: tuple[str, ...] = ENVS) -> list[TaskInfo]:
    return [info for env in envs for info in adapter_class(env).tasks()]
