from __future__ import annotations

from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health checks, metrics, structured logs, security headers."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"
