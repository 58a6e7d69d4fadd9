"""Fill a *benchmark* database with synthetic leaderboard rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/balrogweb_lb_bench \\
    .venv/bin/python manage.py synthesize_leaderboard --episodes 100000 --steps 100 --i-know-this-is-synthetic

Rows are marked ``synthetic:`` and badged on the board; the command refuses
the embedded default database and the production database name.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leaderboard.synthetic import Plan, Refused, check_allowed, do_synthesize


class Command(BaseCommand):
    help = "Generate synthetic leaderboard rows for benchmarks (never real data)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--episodes", type=int, default=100_000)
        parser.add_argument("--steps", type=int, default=100, help="steps per episode")
        parser.add_argument("--models", type=int, default=20, help="model + agent entries")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--i-know-this-is-synthetic", action="store_true", dest="confirmed")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            check_allowed(options["confirmed"])
        except Refused as refusal:
            raise CommandError(str(refusal)) from refusal
        if options["episodes"] < 1 or options["steps"] < 0 or options["models"] < 1:
            raise CommandError("--episodes and --models must be at least 1, --steps at least 0")
        plan = Plan(options["episodes"], options["steps"], models=options["models"], seed=options["seed"])
        started = time.perf_counter()

        def progress(text: str) -> None:
            self.stdout.write(f"[{time.perf_counter() - started:7.1f} s] {text}")

        count = do_synthesize(plan, progress)
        self.stdout.write(self.style.SUCCESS(f"{count} synthetic episodes in {time.perf_counter() - started:.1f} s"))
