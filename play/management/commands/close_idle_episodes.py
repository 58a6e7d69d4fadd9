from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from play.services import do_close_idle_episodes


class Command(BaseCommand):
    help = "End human episodes idle for more than BALROG_IDLE_TIMEOUT_SECONDS (abandoned, scored as they stand)."

    def handle(self, *args: Any, **options: Any) -> None:
        closed = do_close_idle_episodes()
        self.stdout.write(f"closed {len(closed)} idle episodes" + (f": {closed}" if closed else ""))
