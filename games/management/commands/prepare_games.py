from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandParser

from games.base import GameAdapter
from games.registry import ENVS, PROTOCOLS, adapter_class


def builds_assets(cls: type[GameAdapter]) -> bool:
    """Whether the adapter has assets to build (the base class's prepare does nothing)."""
    return getattr(cls.prepare, "__func__", None) is not getattr(GameAdapter.prepare, "__func__", None)


def time_left(done: int, total: int, spent: float) -> str:
    """At the pace so far; cached steps count (a rerun is fast, and so is its estimate)."""
    if done == 0:
        return "time left: estimating"
    seconds = spent / done * (total - done)
    return f"about {seconds / 60:.0f} min left" if seconds >= 90 else f"about {seconds:.0f} s left"


@contextmanager
def progress_lines(stream: TextIO) -> Iterator[None]:
    """The games' own progress messages (one compiled or generated game each), indented under
    the step that logs them, instead of the log's format on stderr."""
    games = logging.getLogger("games")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("    %(message)s"))
    level, propagate = games.level, games.propagate
    games.addHandler(handler)
    games.setLevel(logging.INFO)
    games.propagate = False
    try:
        yield
    finally:
        games.removeHandler(handler)
        games.setLevel(level)
        games.propagate = propagate


class Command(BaseCommand):
    help = (
        "Build offline game assets of both protocols (the reference's TextWorld games, ready to play; "
        "generated TextWorld pools and Boxoban levels). Idempotent: built assets are kept. "
        "Prints each step before it starts, with the time it took and an estimate of the time left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--env", choices=ENVS, action="append", help="only these envs (repeatable)")
        parser.add_argument("--force", action="store_true", help="rebuild even if present")

    def handle(self, *args: Any, **options: Any) -> None:
        steps = [
            (env, protocol, info.task)
            for env in options["env"] or ENVS
            for protocol in PROTOCOLS
            if builds_assets(cls := adapter_class(env, protocol))
            for info in cls.tasks()
        ]
        self.stdout.write(f"prepare_games: {len(steps)} game asset sets to check or build (cached ones take a moment)")
        started = time.monotonic()
        for done, (env, protocol, task) in enumerate(steps):
            self.stdout.write(
                f"[{done + 1}/{len(steps)}] {env} {task} ({protocol}): preparing… "
                f"{time_left(done, len(steps), time.monotonic() - started)}"
            )
            self.stdout.flush()
            began = time.monotonic()
            with progress_lines(self.stdout):  # type: ignore[arg-type]  # OutputWrapper writes like a stream
                line = adapter_class(env, protocol).prepare(task, force=options["force"])
            self.stdout.write(f"    {line or 'nothing to build'} ({time.monotonic() - began:.1f} s)")
        self.stdout.write(f"prepare_games: done in {time.monotonic() - started:.0f} s")
