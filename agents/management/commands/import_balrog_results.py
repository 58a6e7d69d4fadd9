from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.balrog_results import ResultsError, do_import_results
from agents.config import STRATEGIES
from agents.publishing import do_set_published


class Command(BaseCommand):
    help = (
        "Import a BALROG result folder (<env>/<task>/<task>_run_NN.json and .csv, summary.json) as an "
        "evaluation run of imported, non-replayable episodes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--model", required=True, help="the model's name, as the leaderboard shows it")
        parser.add_argument("--agent", choices=STRATEGIES, help="the strategy (default: the files' agent.type)")
        parser.add_argument(
            "--publish", action="store_true", help="publish the imported run on the public leaderboard at once"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = do_import_results(options["directory"], options["model"], options["agent"])
        except (ResultsError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        assert report.run is not None
        self.stdout.write(f"run {report.run.pk}: imported {report.imported} episodes of {', '.join(report.run.envs)}")
        if options["publish"]:
            # The operator's shell stands for the publish permission (as for every management command).
            do_set_published(report.run.pk, True)
            self.stdout.write(f"run {report.run.pk}: published on the leaderboard")
        for line in report.skipped:
            self.stdout.write(f"skipped {line}")
