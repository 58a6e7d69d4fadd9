from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from games.registry import ENVS, all_tasks


class Command(BaseCommand):
    help = "Print every BALROG task, one line each: ENV TASK"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--env", choices=ENVS, help="only this env")

    def handle(self, *args: Any, **options: Any) -> None:
        envs = (options["env"],) if options["env"] else ENVS
        for info in all_tasks(envs):
            self.stdout.write(f"{info.env} {info.task}")
