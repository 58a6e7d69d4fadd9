"""An evaluation run as the agents tests read it back: its planned episodes."""

from __future__ import annotations

from agents.models import EvaluationRun, RunEpisode


def slots(run: EvaluationRun) -> list[RunEpisode]:
    """The run's planned episodes (with their episodes), in plan order: env, task, index."""
    return list(RunEpisode.objects.filter(run=run).select_related("episode").order_by("env", "task", "index"))
