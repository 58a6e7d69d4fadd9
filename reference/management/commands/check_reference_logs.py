"""Replay BALROG's own logs (or its golden cases) and compare every text."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from games.registry import PROTOCOL_BALROG, PROTOCOLS
from reference import report as tables
from reference.golden import check_golden
from reference.logs import FEEDBACK_MODES, LogError, check_submission


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date: {text!r} is not a date (YYYY-MM-DD)") from None


def is_golden(path: Path) -> bool:
    return path.name.endswith((".jsonl", ".jsonl.xz"))


class Command(BaseCommand):
    help = (
        "Replay a BALROG result folder (or a .tar.xz of one) on the reference protocol and compare every "
        "logged observation, the progression, step count and done flag; or play a golden file "
        "(.jsonl / .jsonl.xz) and compare the instruction and every text. Exit status 1 under the targets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--json", type=Path, help="write the figures and the first differences here")
        parser.add_argument("--env", action="append", default=[], help="only this env (repeatable)")
        parser.add_argument("--task", action="append", default=[], help="only this task (repeatable)")
        parser.add_argument("--date", type=_date, help="the day the submission ran (default: its name's prefix)")
        parser.add_argument(
            "--feedback",
            choices=("auto", *FEEDBACK_MODES),
            default="auto",
            help="the invalid-answer line the log's evaluator wrote (auto: current from 2025-01-28, legacy before)",
        )
        parser.add_argument(
            "--protocol",
            choices=PROTOCOLS,
            default=PROTOCOL_BALROG,
            help="replay on this protocol's adapters (balrogweb: what this project showed before; logs only)",
        )
        parser.add_argument("--show", type=int, default=3, help="first differences to print")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        envs, tasks = set(options["env"]) or None, set(options["task"]) or None
        if is_golden(path):
            data, rows, failures = self._golden(path, envs, tasks)
        else:
            data, rows, failures = self._logs(path, envs, tasks, options)
        self.stdout.write("\n".join(rows))
        self._show(data["differences"], options["show"])
        if options["json"]:
            options["json"].write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        if failures:
            raise CommandError("under the targets:\n  " + "\n  ".join(failures))

    def _golden(
        self, path: Path, envs: set[str] | None, tasks: set[str] | None
    ) -> tuple[dict[str, Any], list[str], list[str]]:
        try:
            report = check_golden(path, envs, tasks)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        return tables.golden_report_json(report), tables.golden_rows(report), tables.golden_failures(report)

    def _logs(
        self, path: Path, envs: set[str] | None, tasks: set[str] | None, options: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str], list[str]]:
        feedback = None if options["feedback"] == "auto" else options["feedback"]
        try:
            report = check_submission(
                path,
                given_date=options["date"],
                envs=envs,
                tasks=tasks,
                feedback=feedback,
                protocol=options["protocol"],
            )
        except LogError as exc:
            raise CommandError(str(exc)) from exc
        rows = [
            f"protocol {report.protocol}: {report.submission}: run on {report.submitted}, "
            f"{len(report.episodes)} episodes, {report.seconds:.0f} s",
            *tables.log_rows(report),
        ]
        return tables.log_report_json(report), rows, tables.log_failures(report)

    def _show(self, differences: list[dict[str, Any]], count: int) -> None:
        for difference in differences[:count]:
            self.stdout.write(json.dumps(difference, indent=1, ensure_ascii=False)[:3000])
