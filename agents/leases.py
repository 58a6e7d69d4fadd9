"""Who plays a planned episode: a lease (runner token + heartbeat) per RunEpisode.

A runner claims the lease with a compare-and-swap before it plays, and the
process's lease keeper refreshes the heartbeat while it holds it. A second
delivery of the same task (a redelivered message, a duplicate dispatch)
finds a fresh lease and exits at once. When a worker dies its heartbeats
stop; ``stale_slots`` finds those episodes and the sweep dispatches them
again. Double execution stays harmless regardless: every step commits
through the game core's compare-and-swap on the step index.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.models import EvaluationRun, RunEpisode
from games.models import Episode

TOKEN_PREFIX = f"{socket.gethostname()[:40]}:{os.getpid()}"


def new_token() -> str:
    return f"{TOKEN_PREFIX}:{threading.get_ident() % 100000}:{uuid.uuid4().hex[:12]}"[:96]


def stale_before(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.BALROG_AGENT_STALE_SECONDS)


def do_claim(slot_id: int, token: str) -> bool:
    """Take the lease if it is free, stale, or already ours."""
    now = timezone.now()
    claimable = Q(runner="") | Q(runner=token) | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before(now))
    return RunEpisode.objects.filter(claimable, pk=slot_id).update(runner=token, heartbeat_at=now) == 1


def do_release(slot_id: int, token: str) -> None:
    RunEpisode.objects.filter(pk=slot_id, runner=token).update(runner="", heartbeat_at=None)


def do_touch(tokens: list[str]) -> int:
    """Refresh the heartbeat of the leases these tokens hold (the lease keeper)."""
    return RunEpisode.objects.filter(runner__in=tokens).update(heartbeat_at=timezone.now())


def open_slots() -> QuerySet[RunEpisode]:
    """Planned episodes of running runs that still need playing."""
    not_started = Q(episode__isnull=True, error="")
    playing = Q(episode__status=Episode.Status.RUNNING)
    return RunEpisode.objects.filter(not_started | playing, run__status=EvaluationRun.Status.RUNNING)


def stale_slots(now: datetime | None = None) -> QuerySet[RunEpisode]:
    """Open episodes nobody is playing: a dead runner's stale lease, or a
    dispatch that never started within BALROG_AGENT_REQUEUE_SECONDS (a lost
    message; a long queue only costs a duplicate that exits at once)."""
    now = now or timezone.now()
    requeue_before = now - timedelta(seconds=settings.BALROG_AGENT_REQUEUE_SECONDS)
    dead = ~Q(runner="") & Q(heartbeat_at__lt=stale_before(now))
    never_started = Q(runner="") & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=requeue_before))
    return open_slots().filter(dead | never_started)


def unpicked_slots(now: datetime | None = None) -> QuerySet[RunEpisode]:
    """Open episodes dispatched over BALROG_AGENT_PICKUP_SECONDS ago that no
    runner holds: a long queue, or a lost message (agents.broker tells which)."""
    now = now or timezone.now()
    pickup_before = now - timedelta(seconds=settings.BALROG_AGENT_PICKUP_SECONDS)
    return open_slots().filter(runner="", dispatched_at__lt=pickup_before).order_by("dispatched_at")


def do_take_for_redispatch(slot: RunEpisode, now: datetime) -> bool:
    """Clear a stale lease and stamp the new dispatch, unless another sweep
    (or the runner itself, come back) changed the slot first."""
    updated = RunEpisode.objects.filter(
        pk=slot.pk, runner=slot.runner, heartbeat_at=slot.heartbeat_at, dispatched_at=slot.dispatched_at
    ).update(runner="", heartbeat_at=None, dispatched_at=now)
    return updated == 1
