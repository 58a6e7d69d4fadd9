"""Redis faults, each on a private redis-server on a free port (never the
machine's shared one): a hung Redis (SIGSTOP) leaves /readyz answering 503
within 3 s, naming what is down; a Redis restarted without persistence, with
model episodes queued in it, loses their messages, and the workers' sweep
dispatches them again (agents.broker): every episode finishes, within 3
minutes of Redis's return with the default settings. The recovery times are
printed (docs/faults.md quotes them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import broker
from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from games.models import Episode, Step
from games.services import do_verify_episode
from tests.support.games import BABYAI_TASK
from tests.support.postgres import url_of_the_test_database
from tests.support.profile import use_profile
from tests.support.servers import Server, base_env, migrate, start_redis
from tests.support.settings_files import ROOT

pytestmark = pytest.mark.slow


def redis_pid(port: int) -> int:
    info = subprocess.run(["redis-cli", "-p", str(port), "info", "server"], capture_output=True, text=True, timeout=10)
    line = next(line for line in info.stdout.splitlines() if line.startswith("process_id:"))
    return int(line.split(":", 1)[1])


@pytest.fixture
def hung_redis(own_redis: tuple[int, Path]) -> Iterator[tuple[int, Path, int]]:
    """A private Redis, and its pid to SIGSTOP; always SIGCONTed afterwards."""
    port, directory = own_redis
    start_redis(port, directory)
    pid = redis_pid(port)
    try:
        yield port, directory, pid
    finally:
        os.kill(pid, signal.SIGCONT)


def timed_readyz(base: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=30) as response:
            return response.status, json.loads(response.read()), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), time.monotonic() - started


def test_readyz_answers_503_within_3_s_naming_a_hung_redis(hung_redis: tuple[int, Path, int]) -> None:
    port, directory, pid = hung_redis
    env = base_env(directory, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    migrate(env)
    server = Server(env, directory / "server.log")
    try:
        assert timed_readyz(server.base)[0] == 200
        os.kill(pid, signal.SIGSTOP)  # accepts connections (the kernel does), answers nothing
        answers = [timed_readyz(server.base) for _ in range(3)]
        os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 30
        while (back := timed_readyz(server.base))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        server.stop()
    print(f"\n/readyz with Redis hung: {[(status, round(seconds, 2)) for status, _, seconds in answers]}")
    for status, body, seconds in answers:
        assert status == 503 and seconds < 3.0, (status, seconds, body)
        assert {"channel_layer", "broker"} <= set(body["failed"]), body  # type: ignore[call-overload]
        assert body["checks"]["database"] == "ok"  # type: ignore[index]
    assert back[0] == 200, back


def test_it_finds_which_dispatched_episodes_the_broker_still_holds(own_redis: tuple[int, Path], settings: Any) -> None:
    from balrogweb.celery import app

    port, directory = own_redis
    start_redis(port, directory)
    url = f"redis://127.0.0.1:{port}/0"
    use_profile(settings, redis_url=url)
    with app.connection_for_write(url) as conn:
        for slot_id in (7, 8):
            app.send_task("agents.run_model_episode", args=[slot_id], queue="faults-q", connection=conn)
        app.send_task("agents.recover_model_episodes", queue="faults-q", connection=conn)
    assert broker.held_slots(["faults-q"]) == {7, 8}
    assert broker.held_slots(["another-queue"]) == set()
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10)
    assert broker.held_slots(["faults-q"]) is None  # unknown: nothing counts as lost
    start_redis(port, directory)
    assert broker.held_slots(["faults-q"]) == set()  # the restart lost them


@pytest.mark.services
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="a Celery worker process shares the test database: needs DATABASE_URL on PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_every_queued_model_episode_finishes_within_3_minutes_of_a_redis_restart(
    own_redis: tuple[int, Path],
    start_worker,
    worker_queue: str,
    model_server,
) -> None:
    port, directory = own_redis
    start_redis(port, directory)
    url = f"redis://127.0.0.1:{port}/0"
    ModelEndpoint.objects.create(
        name="dev-redis-faults", provider="dev", base_url=model_server.url, model_id="random@0.02", queue=worker_queue
    )
    # Two episodes at a time: the other four wait in Redis, as a busy deployment's queue does.
    start_worker(("--pool", "threads", "-c", "2"), REDIS_URL=url)
    env = {**os.environ, "DATABASE_URL": url_of_the_test_database(), "REDIS_URL": url}
    dispatched = subprocess.run(
        [sys.executable, "manage.py", "evaluate", "--endpoint", "dev-redis-faults", "--agent", "naive",
         "--env", "babyai", "--task", BABYAI_TASK, "--episodes", "6", "--no-wait"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dispatched.returncode == 0, dispatched.stderr
    run = EvaluationRun.objects.get(endpoint__name="dev-redis-faults")
    deadline = time.monotonic() + 120
    while not Step.objects.filter(episode__run_episode__run=run).exists():
        assert time.monotonic() < deadline, "the worker played nothing"
        time.sleep(0.2)
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10)
    queued = RunEpisode.objects.filter(run=run, episode__isnull=True).count()
    time.sleep(2)  # down for a moment: the worker loses its broker connection
    start_redis(port, directory)
    back_at = time.monotonic()
    while True:
        run.refresh_from_db()
        if run.status != EvaluationRun.Status.RUNNING:
            break
        assert time.monotonic() - back_at < 240, "episodes stranded after the Redis restart"
        time.sleep(1)
    recovered = time.monotonic() - back_at
    print(f"\nRedis restarted with {queued} of 6 model episodes not started: all finished {recovered:.0f} s after")
    assert run.status == EvaluationRun.Status.FINISHED
    for slot in RunEpisode.objects.filter(run=run).select_related("episode"):
        episode = slot.episode
        assert episode is not None and episode.status == Episode.Status.FINISHED, (slot.pk, slot.error)
        indexes = list(Step.objects.filter(episode=episode).values_list("index", flat=True).order_by("index"))
        assert indexes == list(range(episode.steps)) and do_verify_episode(episode).ok
    assert queued > 0, "nothing was waiting in Redis: the test proved nothing"
    assert recovered < 180
