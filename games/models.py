"""Episodes as seed + action log.

An Episode row holds what is needed to rebuild the game (env, task, seed,
options, engine version) and the running totals; each Step row holds one
applied action: the executed raw env actions (what replay feeds back), the
player's raw input (a key or a model's whole answer), and a digest of the
observed state after it, so a replay can prove it reached the same state.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

# Bump when the meaning of recorded fields changes.
EPISODE_PROTOCOL_VERSION = 1


class Episode(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"
        ABANDONED = "abandoned"
        ERROR = "error"

    class PlayerKind(models.TextChoices):
        HUMAN = "human"
        MODEL = "model"
        SCRIPTED = "scripted"

    env = models.CharField(max_length=32)
    task = models.CharField(max_length=128)
    seed = models.BigIntegerField()
    options = models.JSONField(default=dict, blank=True)
    reset_info = models.JSONField(default=dict, blank=True)  # derived seeds, level source, file digests
    level_source = models.CharField(max_length=64, blank=True, default="")
    engine_version = models.CharField(max_length=128)
    protocol_version = models.PositiveSmallIntegerField(default=EPISODE_PROTOCOL_VERSION)
    replayable = models.BooleanField(default=True)  # False for imported reference results
    # games.registry.PROTOCOLS: "balrog" (the reference's benchmark) or "balrogweb" (this
    # project's earlier texts, what every episode from before this field played). Also in
    # options["protocol"], which picks the adapter; protocols are never ranked together.
    protocol = models.CharField(max_length=16, default="balrog", db_index=True)

    player_kind = models.CharField(max_length=16, choices=PlayerKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="episodes"
    )
    nickname = models.CharField(max_length=64, blank=True, default="")
    agent = models.CharField(max_length=128, blank=True, default="")  # e.g. "random", "babyai_bot"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    steps = models.PositiveIntegerField(default=0)  # also the episode's version: steps applied
    progression = models.FloatField(default=0.0)
    episode_return = models.FloatField(default=0.0)
    end_reason = models.CharField(max_length=32, blank=True, default="")
    end_detail = models.CharField(max_length=255, blank=True, default="")
    initial_digest = models.CharField(max_length=32, blank=True, default="")

    started_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_ok = models.BooleanField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["env", "task", "status"]),
            models.Index(fields=["player_kind", "status"]),
            models.Index(fields=["status", "last_activity_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.env}/{self.task} seed={self.seed} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING


class Step(models.Model):
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="step_set")
    index = models.PositiveIntegerField()  # 0-based; the step applied when episode.steps == index
    action = models.CharField(max_length=255)  # the language action executed (default if invalid)
    raw_input = models.TextField(blank=True, default="")  # key pressed or the model's whole answer
    valid = models.BooleanField(default=True)
    executed = models.JSONField()  # raw env actions, including automatic keys (--More--)
    reward = models.FloatField(default=0.0)
    progression = models.FloatField(default=0.0)
    done = models.BooleanField(default=False)
    digest = models.CharField(max_length=32)
    server_ms = models.FloatField(default=0.0)  # time spent stepping the env
    created_at = models.DateTimeField(auto_now_add=True)
    meta = models.JSONField(default=dict, blank=True)  # tokens, latency, retries (model episodes)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["episode", "index"], name="unique_step_index")]
        ordering = ["episode_id", "index"]

    def __str__(self) -> str:
        return f"episode {self.episode_id} step {self.index}: {self.action}"
