"""Ending idle human episodes and dropping this process's unused live games."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from games.base import EndReason
from games.cursors import replay_cursors
from games.live import live_games
from games.models import Episode
from games.services import (
    EpisodeNotRunning,
    do_end_episode,
)
from play.models import PlayRecord


def do_close_idle_episodes() -> list[int]:
    """End (as abandoned, scored as they stand) the human episodes idle for
    longer than BALROG_IDLE_TIMEOUT_SECONDS, and drop this process's live
    games and replay cursors that sat unused as long."""
    timeout = settings.BALROG_IDLE_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    idle = Episode.objects.filter(
        status=Episode.Status.RUNNING, player_kind=Episode.PlayerKind.HUMAN, last_activity_at__lt=cutoff
    )
    closed = []
    for episode_id in idle.values_list("pk", flat=True):
        try:
            do_end_episode(episode_id, reason=EndReason.ABANDONED, detail=f"after {timeout:g} s idle")
        except EpisodeNotRunning:
            continue  # it ended meanwhile
        closed.append(episode_id)
    PlayRecord.objects.filter(live=True).exclude(episode__status=Episode.Status.RUNNING).update(live=False)
    _evict_idle_live_games(time.monotonic() - timeout)
    return closed


def _evict_idle_live_games(cutoff: float) -> None:
    for episode_id in live_games().idle_since(cutoff):
        with live_games().lock_for(episode_id):  # never close an adapter being stepped
            live_games().evict(episode_id)
        replay_cursors().forget(episode_id)
