"""Scripted episodes through a real Celery worker process (PostgreSQL + Redis).

Skipped on the embedded default, where tasks run in-process (that path is
covered by the command tests)."""

from __future__ import annotations

import os
import signal

import pytest
from django.conf import settings

from agents.devserver import DevModelServer
from agents.episodes import rebuild_messages
from agents.models import EvaluationRun, RunEpisode
from agents.prompts import prompt_digest
from agents.services import do_start_scripted_episode
from agents.tasks import play_scripted_episode_task
from games.models import Episode, Step
from games.services import do_verify_episode
from tests.support.workers import FAST_LEASES, THREADS_POOL, model_run, wait_for

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
                       reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL"),
]


@pytest.mark.django_db(transaction=True)
def test_it_plays_a_scripted_episode_in_a_worker_process(start_worker, worker_queue: str) -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    episode = do_start_scripted_episode("babyai", "BabyAI-MixedTrainLocal-v0/goto", 5, "babyai_bot")
    start_worker()
    play_scripted_episode_task.apply_async(args=(episode.pk,), queue=worker_queue)
    wait_for(lambda: Episode.objects.get(pk=episode.pk).status != Episode.Status.RUNNING, timeout=60)
    episode.refresh_from_db()
    assert (episode.status, episode.end_reason, episode.progression) == ("finished", "won", 1.0)
    assert do_verify_episode(episode).ok


@pytest.mark.django_db(transaction=True)
def test_it_resumes_after_the_worker_is_killed(start_worker, worker_queue: str) -> None:
    episode = do_start_scripted_episode("crafter", "default", 7, "random")
    worker = start_worker()
    play_scripted_episode_task.apply_async(args=(episode.pk,), queue=worker_queue)
    # Kill early and look often: this random Crafter episode ends at step 178 and
    # a worker writes a step in a few ms, so waiting for step 30 at a 0.2 s poll
    # once let it finish before the kill (and then nothing was left to resume).
    wait_for(lambda: Step.objects.filter(episode_id=episode.pk).count() >= 10, timeout=90, poll=0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = Step.objects.filter(episode_id=episode.pk).count()
    # The unacknowledged task is not redelivered before the visibility timeout,
    # so the resume is enqueued again; a resumed task continues from the log.
    start_worker()
    play_scripted_episode_task.apply_async(args=(episode.pk,), queue=worker_queue)
    wait_for(lambda: Episode.objects.get(pk=episode.pk).status != Episode.Status.RUNNING, timeout=240)
    episode.refresh_from_db()
    indexes = list(Step.objects.filter(episode=episode).values_list("index", flat=True).order_by("index"))
    assert indexes == list(range(episode.steps)) and episode.steps > killed_at
    assert do_verify_episode(episode).ok


# ----- model episodes ---------------------------------------------------------------------
def _run_done(run: EvaluationRun) -> bool:
    run.refresh_from_db()
    return run.status != EvaluationRun.Status.RUNNING


def _assert_exact_logs(run: EvaluationRun) -> None:
    """Every episode finished with one step per index, no gap, and replays to the same states."""
    for slot in RunEpisode.objects.filter(run=run).select_related("episode", "run"):
        episode = slot.episode
        assert episode is not None and episode.status == Episode.Status.FINISHED, slot
        indexes = list(Step.objects.filter(episode=episode).values_list("index", flat=True).order_by("index"))
        assert indexes == list(range(episode.steps))
        assert do_verify_episode(episode).ok
        last = Step.objects.get(episode=episode, index=episode.steps - 1)
        assert prompt_digest(rebuild_messages(slot, last.index)) == last.meta["model"]["prompt"]


@pytest.mark.django_db(transaction=True)
def test_it_plays_model_episodes_in_a_threads_worker(start_worker, worker_queue: str,
                                                     model_server: DevModelServer) -> None:
    start_worker(THREADS_POOL)
    run = model_run(model_server, worker_queue, "babyai", ("BabyAI-MixedTrainLocal-v0/goto",), 4, "solver")
    wait_for(lambda: _run_done(run), timeout=90)
    assert run.status == "finished"
    assert set(Episode.objects.filter(run_episode__run=run).values_list("end_reason", flat=True)) == {"won"}
    _assert_exact_logs(run)


@pytest.mark.django_db(transaction=True)
def test_model_episodes_resume_after_the_worker_is_killed(start_worker, worker_queue: str,
                                                          model_server: DevModelServer) -> None:
    worker = start_worker(THREADS_POOL, **FAST_LEASES)
    run = model_run(model_server, worker_queue, "crafter", ("default",), 3, "random@0.01")
    wait_for(lambda: Step.objects.filter(episode__run_episode__run=run).count() >= 60, timeout=120)
    worker.send_signal(signal.SIGKILL)  # mid-episode, model calls in flight, nothing acknowledged
    worker.wait(timeout=10)
    # the episodes cut off mid-way, and how far they had got
    planned = RunEpisode.objects.filter(run=run).select_related("episode")
    killed_at = {slot.pk: (slot.episode.pk, slot.episode.steps) for slot in planned
                 if slot.episode is not None and slot.episode.is_running and slot.episode.steps > 0}
    assert killed_at
    # Nothing is enqueued again by the test: the new worker's sweep finds the stale leases.
    start_worker(THREADS_POOL, **FAST_LEASES)
    wait_for(lambda: _run_done(run), timeout=300)
    assert run.status == "finished"
    for slot in RunEpisode.objects.filter(pk__in=killed_at).select_related("episode"):
        episode_id, steps = killed_at[slot.pk]
        assert slot.episode is not None and slot.episode.pk == episode_id and slot.episode.steps > steps  # resumed
        assert slot.crashes == 0
    _assert_exact_logs(run)
