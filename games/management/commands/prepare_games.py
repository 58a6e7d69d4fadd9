from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from games.registry import ENVS, PROTOCOLS, adapter_class


class Command(BaseCommand):
    help = (
        "Build offline game assets of both protocols (the reference's TextWorld games, ready to play; "
        "generated TextWorld pools and Boxoban levels). Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--env", choices=ENVS, action="append", help="only these envs (repeatable)")
        parser.add_argument("--force", action="store_true", help="rebuild even if present")

    def handle(self, *args: Any, **options: Any) -> None:
        for env in options["env"] or ENVS:
            for protocol in PROTOCOLS:
                self._prepare(env, protocol, options["force"])

    def _prepare(self, env: str, protocol: str, force: bool) -> None:
        cls = adapter_class(env, protocol)
        for info in cls.tasks():
            line = cls.prepare(info.task, force=force)
            if line:
                self.stdout.write(f"{env} {info.task} ({protocol}): {line}")
