"""The games as pages show them: title, blurb, tasks, keys, renderer.

Each game's adapter declares these (``games.base.GameAdapter``); this module
reads them through the registry, so a new game is one package plus its
registry line, and no page keeps a table of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from games.base import InvalidTask, KeyBinding, TaskInfo
from games.registry import DEFAULT_PROTOCOL, ENVS, adapter_class

logger = logging.getLogger(__name__)

GENERIC_RENDERER = "generic"


@dataclass(frozen=True)
class GameEntry:
    env: str
    title: str
    blurb: str
    tasks: tuple[TaskInfo, ...]
    error: str = ""  # why the game cannot be played here (its adapter failed to load)


def all_games() -> list[GameEntry]:
    """Every game with its tasks (this imports every game package)."""
    return [game_entry(env) for env in ENVS]


def game_entry(env: str) -> GameEntry:
    """One game and its tasks; a game whose adapter cannot load is described
    with the error instead of breaking the page."""
    try:
        cls = adapter_class(env)
        tasks = tuple(cls.tasks())
    except Exception as exc:  # an adapter missing or broken on this server
        logger.exception("game %s is unavailable", env)
        return GameEntry(env, env, "", (), error=f"unavailable on this server ({type(exc).__name__})")
    return GameEntry(env, cls.title or env, cls.blurb, tasks)


def game_title(env: str) -> str:
    return adapter_class(env).title or env


def renderer(env: str) -> str:
    """The browser renderer of the game's frames (static/play/)."""
    try:
        return adapter_class(env).renderer
    except InvalidTask:  # a stored episode of a game this server does not know
        return GENERIC_RENDERER
    except Exception:  # or cannot load: drawn generically all the same
        logger.exception("game %s is unavailable", env)
        return GENERIC_RENDERER


def key_bindings(env: str, task: str, protocol: str = DEFAULT_PROTOCOL) -> list[KeyBinding]:
    """The keys a task of ``protocol`` accepts (the play page's controls)."""
    return adapter_class(env, protocol).task_key_bindings(task)


def accepts_free_text(env: str) -> bool:
    return adapter_class(env).accepts_free_text
