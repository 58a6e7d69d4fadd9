"""Play cases on the reference protocol and write what a model is shown.

Each input line is ``{"env", "task", "seed", "knobs", "actions"}`` (knobs
optional, as in the golden README); each output line is the same object
with ``"instruction"`` and ``"observations": [{"long_term", "short_term"}, ...]``
(one after the reset and one per action played, the invalid-action feedback
included): the golden file's shape. All cases run in this one process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reference.cases import play_case
from reference.golden import read_cases

REQUIRED = ("env", "task", "seed")


class Command(BaseCommand):
    help = "Play cases (.jsonl / .jsonl.xz) on the reference protocol; write the instruction and every text."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        written = 0
        with options["out"].open("w", encoding="utf-8") as out:
            for number, case in enumerate(self._cases(path), 1):
                out.write(json.dumps(self._observe(case, number), ensure_ascii=False) + "\n")
                written += 1
        self.stdout.write(f"{written} cases written to {options['out']}")

    def _cases(self, path: Path) -> Any:
        try:
            yield from read_cases(path)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _observe(self, case: dict[str, Any], number: int) -> dict[str, Any]:
        missing = [key for key in REQUIRED if key not in case]
        if missing:
            raise CommandError(f"case {number}: missing {', '.join(missing)}")
        try:
            played = play_case({**case, "actions": list(case.get("actions") or [])})
        except (ValueError, KeyError) as exc:
            raise CommandError(f"case {number} ({case['env']}/{case['task']} seed {case['seed']}): {exc}") from exc
        actions = list(case.get("actions") or [])[: played.steps]
        return {**case, "actions": actions, "instruction": played.instruction, "observations": played.observations}
