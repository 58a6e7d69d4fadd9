from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from agents.models import EvaluationRun, ModelEndpoint, RunEpisode

# django-stubs types the admin classes by their models; Django's own are not subscriptable at run time.
if TYPE_CHECKING:
    _EndpointModelAdmin = admin.ModelAdmin[ModelEndpoint]
    _RunModelAdmin = admin.ModelAdmin[EvaluationRun]
    _RunEpisodeModelAdmin = admin.ModelAdmin[RunEpisode]
    _RunEpisodeInlineBase = admin.TabularInline[RunEpisode, EvaluationRun]
else:
    _EndpointModelAdmin = _RunModelAdmin = _RunEpisodeModelAdmin = admin.ModelAdmin
    _RunEpisodeInlineBase = admin.TabularInline


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(_EndpointModelAdmin):
    list_display = ("name", "provider", "model_id", "base_url", "api_key_env", "vision", "queue")
    list_filter = ("provider", "vision")
    search_fields = ("name", "model_id")
    fieldsets = (
        (None, {"fields": ("name", "provider", "base_url", "model_id", "api_key_env", "vision", "queue")}),
        (
            "Generation",
            {"fields": ("temperature", "max_tokens", "timeout_seconds", "retries", "retry_base_delay", "extra_body")},
        ),
        ("Cost", {"fields": ("input_price_per_mtok", "output_price_per_mtok")}),
    )


class RunEpisodeInline(_RunEpisodeInlineBase):
    model = RunEpisode
    extra = 0
    can_delete = False
    fields = (
        "env",
        "task",
        "index",
        "seed",
        "episode",
        "error",
        "runner",
        "heartbeat_at",
        "calls",
        "input_tokens",
        "output_tokens",
    )
    readonly_fields = fields
    show_change_link = True


@admin.register(EvaluationRun)
class EvaluationRunAdmin(_RunModelAdmin):
    list_display = ("pk", "model_name", "name", "source", "status", "created_at", "finished_at")
    list_filter = ("status", "source")
    search_fields = ("model_name", "name")
    readonly_fields = ("created_at", "finished_at")
    inlines = [RunEpisodeInline]


@admin.register(RunEpisode)
class RunEpisodeAdmin(_RunEpisodeModelAdmin):
    list_display = ("pk", "run", "env", "task", "index", "episode", "runner", "heartbeat_at", "crashes")
    list_filter = ("env",)
    raw_id_fields = ("run", "episode")
