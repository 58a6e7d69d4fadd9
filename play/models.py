"""What the play app records beside an episode: who may play it and whether
it counts as a human baseline.

The game core's Episode knows the user (if logged in) and a nickname; an
anonymous player is known only by a random token in their session, so the
owner lives here, as a key that is the same for every episode of one player:
``u:<user id>`` or ``a:<sha256 of the session token>``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q, QuerySet

from games.models import Episode


class PlayRecord(models.Model):
    episode = models.OneToOneField(Episode, on_delete=models.CASCADE, primary_key=True, related_name="play")
    owner = models.CharField(max_length=80, db_index=True)
    # Denormalised from the episode so "one live episode per player per task"
    # can be a database constraint; cleared once the episode is no longer running.
    env = models.CharField(max_length=32)
    task = models.CharField(max_length=128)
    live = models.BooleanField(default=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The model episode whose seed this episode replays, when the player chose one.
    seed_from = models.ForeignKey(Episode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # None: the default rule (logged-in players count, anonymous ones do not).
    baseline_override = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "env", "task"], condition=models.Q(live=True), name="one_live_episode_per_task"
            )
        ]

    def __str__(self) -> str:
        return f"episode {self.episode_id} by {self.owner}"

    @property
    def counts_as_baseline(self) -> bool:
        """The override if set, else: played by a logged-in player (see
        human_baseline_episodes for the query)."""
        if self.baseline_override is not None:
            return self.baseline_override
        return self.episode.user_id is not None


def human_baseline_episodes() -> QuerySet[Episode]:
    """Human episodes that count as baselines: by logged-in players unless an
    override says otherwise. Abandoned episodes count as they stand, so a
    player cannot improve a baseline by abandoning bad runs."""
    counted = Q(play__baseline_override=True) | Q(play__baseline_override__isnull=True, user__isnull=False)
    return Episode.objects.filter(
        counted,
        player_kind=Episode.PlayerKind.HUMAN,
        replayable=True,
        status__in=[Episode.Status.FINISHED, Episode.Status.ABANDONED],
    )


def counts_as_baseline(episode: Episode) -> bool:
    """For one episode, the rule of human_baseline_episodes (status aside)."""
    if episode.player_kind != Episode.PlayerKind.HUMAN:
        return False
    record = PlayRecord.objects.filter(episode=episode).select_related("episode").first()
    return record.counts_as_baseline if record is not None else episode.user_id is not None
