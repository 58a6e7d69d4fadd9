from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from agents.evaluation import do_recover_stale
from ops.outage import reconnecting


class Command(BaseCommand):
    help = (
        "Dispatch again the model episodes whose runner died (stale heartbeat) or whose dispatch never "
        "started. Workers run this at start-up and periodically; safe to run any time (cron)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        redispatched = reconnecting(do_recover_stale, self.stderr.write)
        self.stdout.write(f"dispatched again: {len(redispatched)}" + (f" ({redispatched})" if redispatched else ""))
