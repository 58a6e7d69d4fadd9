from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from games.registry import ENVS, adapter_class


class Command(BaseCommand):
    help = "Build offline game assets (TextWorld game pools, generated Boxoban levels). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--env", choices=ENVS, action="append", help="only these envs (repeatable)")
        parser.add_argument("--force", action="store_true", help="rebuild even if present")

    def handle(self, *args: Any, **options: Any) -> None:
        for env in options["env"] or ENVS:
            cls = adapter_class(env)
            for info in cls.tasks():
                line = cls.prepare(info.task, force=options["force"])
                if line:
                    self.stdout.write(f"{env} {info.task}: {line}")
