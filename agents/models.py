"""Model endpoints, evaluation runs, and the episodes a run plans.

A ``ModelEndpoint`` names an OpenAI-compatible API and how to call it; its
API key never enters the database: the record holds the *name* of the
environment variable that holds it. An ``EvaluationRun`` is one endpoint
with one agent configuration on a set of tasks (BALROG's protocol: N
episodes per task). Each planned episode is a ``RunEpisode``: its task, its
index and seed, the game-core ``Episode`` once started, and the lease of the
runner playing it (a heartbeat the recovery sweep checks).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from agents.config import AgentConfig
from agents.endpoints import EndpointSettings
from games.jsontypes import JSONObject
from games.models import Episode

ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_env_var_name(value: str) -> None:
    if value and not ENV_VAR_NAME.match(value):
        raise ValidationError(f"{value!r} is not an environment variable name (the key itself never goes here)")


def default_queue() -> str:
    return str(settings.BALROG_AGENT_QUEUE)


class ModelEndpoint(models.Model):
    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        VLLM = "vllm", "vLLM"
        OLLAMA = "ollama", "Ollama"
        OTHER = "other", "Other OpenAI-compatible API"
        DEV = "dev", "balrogweb development server"

    name = models.CharField(max_length=64, unique=True, help_text="display name; `evaluate --endpoint NAME`")
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.OPENAI)
    base_url = models.CharField(max_length=255, help_text="e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1")
    model_id = models.CharField(max_length=128)
    api_key_env = models.CharField(
        max_length=64,
        blank=True,
        default="",
        validators=[validate_env_var_name],
        help_text="NAME of the environment variable holding the API key (blank: no key)",
    )
    temperature = models.FloatField(default=1.0)
    max_tokens = models.PositiveIntegerField(default=8192)
    timeout_seconds = models.FloatField(default=120.0, help_text="per attempt")
    retries = models.PositiveSmallIntegerField(default=5, help_text="retries after the first attempt")
    retry_base_delay = models.FloatField(default=2.0, help_text="seconds; doubled each retry, with jitter")
    vision = models.BooleanField(default=False, help_text="accepts images (VLM runs)")
    queue = models.CharField(max_length=64, default=default_queue, help_text="Celery queue its episodes run on")
    input_price_per_mtok = models.FloatField(default=0.0, help_text="USD per million input tokens")
    output_price_per_mtok = models.FloatField(default=0.0, help_text="USD per million output tokens")
    extra_body = models.JSONField(default=dict, blank=True, help_text='extra request fields, e.g. {"top_p": 0.9}')
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.model_id})"

    def settings(self) -> EndpointSettings:
        return EndpointSettings(
            pk=self.pk,
            name=self.name,
            provider=self.provider,
            base_url=self.base_url,
            model_id=self.model_id,
            api_key_env=self.api_key_env,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout=self.timeout_seconds,
            retries=self.retries,
            retry_base_delay=self.retry_base_delay,
            vision=self.vision,
            input_price_per_mtok=self.input_price_per_mtok,
            output_price_per_mtok=self.output_price_per_mtok,
            extra_body=dict(self.extra_body or {}),
        )

    def client_json(self) -> JSONObject:
        """The client configuration as a result folder records it (no key)."""
        return {
            "client_name": self.provider,
            "model_id": self.model_id,
            "base_url": self.base_url,
            "generate_kwargs": {"temperature": self.temperature, "max_tokens": self.max_tokens},
            "timeout": self.timeout_seconds,
            "max_retries": self.retries,
            "delay": self.retry_base_delay,
        }


class EvaluationRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        CANCELLED = "cancelled"
        FINISHED = "finished"

    class Source(models.TextChoices):
        LIVE = "live", "played here"
        IMPORTED = "imported", "imported BALROG results"

    name = models.CharField(max_length=128, blank=True, default="")
    endpoint = models.ForeignKey(ModelEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="runs")
    model_name = models.CharField(max_length=128)  # the endpoint's name, or --model of an import
    agent = models.JSONField(default=dict)  # AgentConfig.to_json()
    envs = models.JSONField(default=list)  # env keys in the order planned
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.LIVE)
    # games.registry.PROTOCOLS: every episode of the run plays this protocol. New runs play
    # BALROG's own ("balrog"); runs from before the field existed played "balrogweb".
    protocol = models.CharField(max_length=16, default="balrog")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    seed_base = models.BigIntegerField(default=0)  # the episode with index i plays seed seed_base + i
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)  # imports: the reference configs and summary
    # Shown on the public leaderboard (only finished runs, see agents.publishing).
    published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"])]
        # Starting, cancelling and resuming runs spends model budget: a permission of its own,
        # which the annotators' and reviewers' groups do not carry (agents.services).
        # Publishing puts a run on the public leaderboard (agents.publishing).
        permissions = [
            ("manage_evaluationrun", "Can start, cancel and resume evaluation runs"),
            ("publish_evaluationrun", "Can publish an evaluation run on the public leaderboard"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.model_name} {self.agent_config.label()} on {', '.join(self.envs)}"

    @property
    def agent_config(self) -> AgentConfig:
        return AgentConfig.from_json(self.agent)


class RunEpisode(models.Model):
    """One planned episode of a run, and the lease of whoever plays it."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="planned")
    env = models.CharField(max_length=32)
    task = models.CharField(max_length=128)
    index = models.PositiveIntegerField()  # NN of <task>_run_NN.json
    seed = models.BigIntegerField()
    episode = models.OneToOneField(
        Episode, null=True, blank=True, on_delete=models.SET_NULL, related_name="run_episode"
    )
    # Earlier episodes of this slot that ended in error or were cancelled, replaced on resume.
    replaced = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=255, blank=True, default="")  # failed before an episode existed
    runner = models.CharField(max_length=96, blank=True, default="")  # the lease holder's token
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    crashes = models.PositiveSmallIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)  # model calls, retries included
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    meta = models.JSONField(default=dict, blank=True)  # instructions sent, demonstrations chosen

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "env", "task", "index"], name="unique_run_episode_slot")]
        indexes = [models.Index(fields=["runner", "heartbeat_at"])]
        ordering = ["run_id", "env", "task", "index"]

    def __str__(self) -> str:
        return f"run {self.run_id} {self.env}/{self.task} #{self.index}"
