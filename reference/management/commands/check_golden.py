"""A developer's quick look: play the golden cases of some envs and print
how many match (``check_reference_logs`` is the full check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reference.golden import check_golden


class Command(BaseCommand):
    help = "Play golden cases (.jsonl or .jsonl.xz) on the reference protocol and compare every text."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--env", action="append", default=[])
        parser.add_argument("--task", action="append", default=[])
        parser.add_argument("--show", type=int, default=3, help="first differences to print")

    def handle(self, *args: Any, **options: Any) -> None:
        report = check_golden(options["path"], set(options["env"]) or None, set(options["task"]) or None)
        shown = 0
        for task, cases in report.by("task").items():
            matching = sum(case.matches for case in cases)
            texts = sum(case.texts for case in cases)
            identical = sum(case.identical for case in cases)
            self.stdout.write(f"{cases[0].env:10} {task:60} cases {matching}/{len(cases)} texts {identical}/{texts}")
            for case in cases:
                if not case.matches and shown < options["show"]:
                    shown += 1
                    detail = case.error or json.dumps(case.first_difference, indent=1)
                    self.stdout.write(f"  seed {case.seed}: {detail}")
