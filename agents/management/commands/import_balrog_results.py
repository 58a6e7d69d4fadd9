from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.balrog_results import ResultsError, import_results
from agents.config import STRATEGIES


class Command(BaseCommand):
    help = (
        "Import a BALROG result folder (<env>/<task>/<task>_run_NN.json and .csv, summary.json) as an "
        "evaluation run of imported, non-replayable episodes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--model", required=True, help="the model's name, as the leaderboard shows it")
        parser.add_argument("--agent", choices=STRATEGIES, help="the strategy (default: the files' agent.type)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = import_results(options["directory"], options["model"], options["agent"])
        except (ResultsError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        assert report.run is not None
        self.stdout.write(f"run {report.run.pk}: imported {report.imported} episodes of {', '.join(report.run.envs)}")
        for line in report.skipped:
            self.stdout.write(f"skipped {line}")
