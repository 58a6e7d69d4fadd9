"""Celery tasks for agents. Thin: parse, call a service.

Model episodes run on the endpoint's queue, in a worker started with the
threads pool (one thread per episode in flight; the threads wait for the
model, not the CPU):

    celery -A balrogweb worker -Q models --pool threads -c 200

At start-up each worker runs the recovery sweep, then every
BALROG_AGENT_SWEEP_SECONDS; on shutdown its runners hand their episodes back
after the current step, and they are dispatched again for another worker.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down

from agents import runtime
from agents.evaluation import RUN_MODEL_EPISODE_TASK, do_dispatch, do_recover_stale
from agents.models import RunEpisode
from agents.runner import run_model_episode
from agents.services import do_play_scripted_episode


@shared_task(acks_late=True, reject_on_worker_lost=True, name="agents.play_scripted_episode")
def play_scripted_episode_task(episode_id: int) -> dict[str, object]:
    """Resumable: a redelivered task continues from the last persisted step."""
    episode = do_play_scripted_episode(episode_id)
    return {"episode": episode.pk, "status": episode.status, "steps": episode.steps}


@shared_task(acks_late=True, reject_on_worker_lost=True, name=RUN_MODEL_EPISODE_TASK)
def run_model_episode_task(slot_id: int) -> dict[str, object]:
    """Play (or resume) a planned model episode; a duplicate delivery exits at once."""
    reason = run_model_episode(slot_id)
    if reason == "worker stopping":
        runtime.db_call(_hand_back, slot_id)
    return {"slot": slot_id, "stopped": reason}


@shared_task(name="agents.recover_model_episodes")
def recover_model_episodes_task() -> list[int]:
    return do_recover_stale()


def _hand_back(slot_id: int) -> None:
    queue = RunEpisode.objects.filter(pk=slot_id).values_list("run__endpoint__queue", flat=True).first()
    if queue:
        do_dispatch([slot_id], queue)


@worker_ready.connect
def _start_sweep(**_: Any) -> None:
    runtime.ensure_sweeper(do_recover_stale)


@worker_shutting_down.connect
def _stop_runners(**_: Any) -> None:
    runtime.request_stop()
