"""Publishing evaluation runs on the public leaderboard.

A run is shown on the leaderboard (leaderboard.services.public_runs) when it
has finished *and* someone with the ``agents.publish_evaluationrun``
permission published it. New runs start unpublished, so a result can be
checked before it goes public; unpublishing takes it off again.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from agents.models import EvaluationRun
from balrogweb.errors import ServiceError

PUBLISH_RUNS = "agents.publish_evaluationrun"


class PublishError(ServiceError):
    code = "publish_refused"


def can_publish_runs(user: User | AnonymousUser) -> bool:
    """Superusers have every permission; staff alone is not enough."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(PUBLISH_RUNS))


def check_publish_runs(user: User | AnonymousUser) -> None:
    if not can_publish_runs(user):
        raise PermissionDenied("publishing evaluation runs needs the agents.publish_evaluationrun permission")


def check_publishable(run: EvaluationRun) -> None:
    """Only a finished run has final figures to publish."""
    if run.status != EvaluationRun.Status.FINISHED:
        raise PublishError(f"run {run.pk} is {run.status}: only finished runs can be published")


def do_set_published(run_id: int, published: bool) -> EvaluationRun:
    """Publish or unpublish a run (idempotent). ``published_at`` is the time
    it was last published, and None while unpublished: the leaderboard's data
    version reads it, so the board refreshes either way."""
    with transaction.atomic():
        run = EvaluationRun.objects.select_for_update().get(pk=run_id)
        if published:
            check_publishable(run)
        if run.published == published:
            return run
        run.published = published
        run.published_at = timezone.now() if published else None
        run.save(update_fields=["published", "published_at"])
    return run
