"""A model worker SIGKILLed in the middle of its episodes, with the default
lease settings: another worker's sweep resumes them once their heartbeat is
BALROG_AGENT_STALE_SECONDS (60 s) old, at its next sweep (every 30 s). Every
episode finishes, no committed step is lost or doubled, each replays; the
recovery time is printed (docs/faults.md quotes it)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from agents.models import EvaluationRun, RunEpisode
from games.models import Episode, Step
from games.services import do_verify_episode
from tests.support.workers import THREADS_POOL, model_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
                       reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL"),
]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_model_episodes_of_a_sigkilled_worker_finish_with_the_default_settings(
    start_worker,
    worker_queue: str,
    model_server,
) -> None:
    first = start_worker(THREADS_POOL)
    run = model_run(model_server, worker_queue, "crafter", ("default",), 2, "random@0.05")
    deadline = time.monotonic() + 120
    while Step.objects.filter(episode__run_episode__run=run).count() < 20:
        assert time.monotonic() < deadline, "the worker played nothing"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # model calls in flight, nothing acknowledged
    first.wait(timeout=10)
    killed_at = time.monotonic()
    before = dict(Episode.objects.filter(run_episode__run=run).values_list("pk", "steps"))
    start_worker(THREADS_POOL)
    resumed_after = None
    while True:
        run.refresh_from_db()
        now = Episode.objects.filter(run_episode__run=run).values_list("pk", "steps")
        if resumed_after is None and any(steps > before.get(pk, 0) for pk, steps in now):
            resumed_after = time.monotonic() - killed_at
        if run.status != EvaluationRun.Status.RUNNING:
            break
        assert time.monotonic() - killed_at < 600, "the episodes were not resumed"
        time.sleep(0.5)
    print(f"\nworker SIGKILLed: play resumed {resumed_after:.0f} s later (steps before: {before})")
    assert run.status == EvaluationRun.Status.FINISHED
    for slot in RunEpisode.objects.filter(run=run).select_related("episode"):
        episode = slot.episode
        assert episode is not None and episode.status == Episode.Status.FINISHED, (slot.pk, slot.error)
        assert episode.steps >= before.get(episode.pk, 0)
        indexes = list(Step.objects.filter(episode=episode).values_list("index", flat=True).order_by("index"))
        assert indexes == list(range(episode.steps)) and do_verify_episode(episode).ok
