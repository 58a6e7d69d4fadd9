"""Celery tasks for agents. Thin: parse, call a service."""

from __future__ import annotations

from celery import shared_task

from agents.services import play_scripted_episode


@shared_task(acks_late=True, reject_on_worker_lost=True, name="agents.play_scripted_episode")
def play_scripted_episode_task(episode_id: int) -> dict[str, object]:
    """Resumable: a redelivered task continues from the last persisted step."""
    episode = play_scripted_episode(episode_id)
    return {"episode": episode.pk, "status": episode.status, "steps": episode.steps}
