from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.balrog_results import export_results
from agents.models import EvaluationRun


class Command(BaseCommand):
    help = "Write an evaluation run's finished episodes and summaries in BALROG's result-folder layout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run", type=int, help="evaluation run id")
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = EvaluationRun.objects.select_related("endpoint").get(pk=options["run"])
        except EvaluationRun.DoesNotExist:
            raise CommandError(f"there is no evaluation run {options['run']}") from None
        written = export_results(run, options["directory"])
        self.stdout.write(f"run {run.pk}: wrote {written} episodes to {options['directory']}")
