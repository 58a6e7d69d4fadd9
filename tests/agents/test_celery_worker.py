"""Scripted episodes through a real Celery worker process (PostgreSQL + Redis).

Skipped on the embedded default, where tasks run in-process (that path is
covered by the command tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from agents.services import do_start_scripted_episode
from agents.tasks import play_scripted_episode_task
from games.models import Episode, Step
from games.services import verify_episode

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
                       reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL"),
]


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_queue() -> str:
    return f"test-{os.getpid()}-{time.monotonic_ns()}"


@pytest.fixture
def start_worker(worker_queue: str) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "DATABASE_URL": _test_database_url()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "balrogweb", "worker", "-Q", worker_queue,
             "--pool", "solo", "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"],
            cwd=ROOT, env=env,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.django_db(transaction=True)
def test_it_plays_a_scripted_episode_in_a_worker_process(start_worker, worker_queue: str) -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    episode = do_start_scripted_episode("babyai", "BabyAI-MixedTrainLocal-v0/goto", 5, "babyai_bot")
    start_worker()
    play_scripted_episode_task.apply_async(args=[episode.pk], queue=worker_queue)
    _wait_for(lambda: Episode.objects.get(pk=episode.pk).status != Episode.Status.RUNNING, timeout=60)
    episode.refresh_from_db()
    assert (episode.status, episode.end_reason, episode.progression) == ("finished", "won", 1.0)
    assert verify_episode(episode).ok


@pytest.mark.django_db(transaction=True)
def test_it_resumes_after_the_worker_is_killed(start_worker, worker_queue: str) -> None:
    episode = do_start_scripted_episode("crafter", "default", 7, "random")
    worker = start_worker()
    play_scripted_episode_task.apply_async(args=[episode.pk], queue=worker_queue)
    _wait_for(lambda: Step.objects.filter(episode_id=episode.pk).count() >= 30, timeout=90)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = Step.objects.filter(episode_id=episode.pk).count()
    # The unacknowledged task is not redelivered before the visibility timeout,
    # so the resume is enqueued again; a resumed task continues from the log.
    start_worker()
    play_scripted_episode_task.apply_async(args=[episode.pk], queue=worker_queue)
    _wait_for(lambda: Episode.objects.get(pk=episode.pk).status != Episode.Status.RUNNING, timeout=240)
    episode.refresh_from_db()
    indexes = list(Step.objects.filter(episode=episode).values_list("index", flat=True).order_by("index"))
    assert indexes == list(range(episode.steps)) and episode.steps > killed_at
    assert verify_episode(episode).ok
