from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from games.models import Episode
from games.services import do_verify_episode
from ops.outage import reconnecting


class Command(BaseCommand):
    help = "Replay episodes from their seeds and logs; one line each; exit 1 on any mismatch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="episode ids")
        parser.add_argument("--all", action="store_true", help="every replayable episode")

    def handle(self, *args: Any, **options: Any) -> None:
        episodes = reconnecting(lambda: self._select(options["ids"], options["all"]), self.stderr.write)
        failures = 0
        for episode in episodes:
            started = time.perf_counter()
            # A running episode is checked up to the steps its row said when it
            # was read (games.services.do_verify_episode): never a false mismatch.
            report = reconnecting(lambda: do_verify_episode(episode), self.stderr.write)  # noqa: B023 (called at once)
            seconds = time.perf_counter() - started
            status = "OK" if report.ok else "MISMATCH"
            failures += not report.ok
            self.stdout.write(
                f"{status} episode={episode.pk} {episode.env}/{episode.task} seed={episode.seed} "
                f"steps={report.steps_checked} {seconds:.2f}s {report.message}"
            )
        if failures:
            raise CommandError(f"{failures} episode(s) did not replay to their recorded states", returncode=1)

    def _select(self, ids: list[int], everything: bool) -> list[Episode]:
        if everything == bool(ids):
            raise CommandError("give episode ids or --all (not both)")
        if everything:
            return list(Episode.objects.filter(replayable=True).order_by("pk"))
        found = {e.pk: e for e in Episode.objects.filter(pk__in=ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise CommandError(f"no such episode(s): {', '.join(map(str, missing))}", returncode=1)
        return [found[i] for i in ids]
