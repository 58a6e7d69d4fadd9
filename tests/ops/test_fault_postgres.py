"""The machine's PostgreSQL restarted in the middle of (a) human play over a
real websocket against a real server process and (b) model episodes in a real
Celery worker process. No acknowledged step is lost, none is doubled (the
step indexes are contiguous and every acknowledged seq is in the database
exactly once), play resumes (the player reconnects and continues; the
model episodes finish), and every episode still verifies by replay.

Runs only on PostgreSQL with ``pg_ctlcluster`` (the machine's cluster is
restarted: every connection to it breaks, other sessions' too); (b) needs
Redis for the broker as well. PostgreSQL is left running (``finally``: wait
for ``pg_isready``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connections

from agents.models import EvaluationRun, RunEpisode
from games.models import Episode, Step
from games.services import do_verify_episode
from tests.support.games import BABYAI_TASK, BABYAI_TURNS
from tests.support.postgres import drop_dead_connections, url_of_the_test_database
from tests.support.servers import Server, base_env
from tests.support.workers import FAST_LEASES, THREADS_POOL, model_run
from tests.support.wsclient import DISCONNECTED, Closed, WebSocket, hello, send_action, start_episode

pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="restarts PostgreSQL: needs DATABASE_URL on PostgreSQL",
    ),
    pytest.mark.skipif(
        shutil.which("pg_ctlcluster") is None, reason="needs pg_ctlcluster (Debian's postgresql-common)"
    ),
]


def restart_postgres() -> None:
    """The machine's cluster (``pg_ctlcluster $(ls /etc/postgresql) main restart``), back up on return."""
    try:
        pg_ctlcluster("restart")
    finally:
        wait_for_postgres()


def stop_postgres() -> None:
    pg_ctlcluster("stop")


def start_postgres() -> None:
    try:
        pg_ctlcluster("start")
    finally:
        wait_for_postgres()


def pg_ctlcluster(action: str) -> None:
    (version,) = os.listdir("/etc/postgresql")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def wait_for_postgres(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("PostgreSQL did not come back")


@pytest.fixture
def postgres_left_running() -> object:
    try:
        yield
    finally:
        wait_for_postgres()
        drop_dead_connections()


def assert_exact_log(episode: Episode, acked: set[int] | None = None) -> None:
    indexes = list(Step.objects.filter(episode=episode).values_list("index", flat=True).order_by("index"))
    assert indexes == list(range(episode.steps)), "steps lost or doubled"
    if acked is not None:
        assert acked <= set(indexes), f"acknowledged steps lost: {sorted(acked - set(indexes))}"
    assert do_verify_episode(episode).ok


@pytest.mark.django_db(transaction=True)
def test_it_loses_no_acknowledged_step_when_postgres_restarts_mid_game(tmp_path: Path, postgres_left_running) -> None:
    env = base_env(tmp_path, DATABASE_URL=url_of_the_test_database())
    server = Server(env, tmp_path / "server.log")
    acked: set[int] = set()  # step indexes (= seq) the server acknowledged
    try:
        episode_id, cookie = start_episode(server.base, "babyai", BABYAI_TASK)

        async def send(ws: WebSocket, seq: int) -> dict[str, object] | None:
            return await send_action(ws, seq, BABYAI_TURNS[seq % 2])

        async def play() -> tuple[int, list[str]]:
            ws = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", cookie)
            await hello(ws, None)
            seq, errors = 0, []
            for seq in range(5):
                reply = await send(ws, seq)
                assert reply is not None and reply["type"] == "ack", reply
                acked.add(seq)
            seq = 5
            await asyncio.to_thread(restart_postgres)
            deadline = time.monotonic() + 90
            while seq < 12 and time.monotonic() < deadline:
                reply = await send(ws, seq)
                if reply is not None and reply["type"] == "ack":
                    acked.add(seq)
                    seq += 1
                    continue
                errors.append(str(reply and reply.get("code")))
                # Refused or cut off: reconnect as static/play/js/socket.js does, resend the same seq.
                ws.close()
                await asyncio.sleep(0.5)
                try:
                    ws = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", cookie)
                    snapshot = await hello(ws, seq)
                except DISCONNECTED:
                    continue
                assert snapshot["status"] == "running"
                assert int(snapshot["version"]) >= len(acked)  # type: ignore[call-overload]
            ws.close()
            return seq, errors

        played, errors = asyncio.run(play())
        assert server.process.poll() is None, "the web process died"
    finally:
        server.stop()
    drop_dead_connections()
    print(f"\nacknowledged {len(acked)} steps; refusals or disconnects after the restart: {errors}")
    assert played == 12, "play did not resume"
    episode = Episode.objects.get(pk=episode_id)
    assert episode.status == Episode.Status.RUNNING and episode.steps == 12
    assert acked == set(range(12))
    assert_exact_log(episode, acked)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Celery worker needs REDIS_URL")
@pytest.mark.django_db(transaction=True)
def test_model_episodes_survive_a_postgres_restart_in_a_worker(
    start_worker,
    worker_queue: str,
    model_server,
    postgres_left_running,
) -> None:
    start_worker(THREADS_POOL, **FAST_LEASES)
    run = model_run(model_server, worker_queue, "crafter", ("default",), 2, "random@0.01")
    deadline = time.monotonic() + 120
    while Step.objects.filter(episode__run_episode__run=run).count() < 40:
        assert time.monotonic() < deadline, "the worker played nothing"
        time.sleep(0.2)
    before = dict(Episode.objects.filter(run_episode__run=run).values_list("pk", "steps"))
    restart_postgres()
    drop_dead_connections()
    deadline = time.monotonic() + 300
    while True:
        try:
            run.refresh_from_db()
            if run.status != EvaluationRun.Status.RUNNING:
                break
        except Exception:  # a connection opened while the server was going down
            connections.close_all()
        assert time.monotonic() < deadline, "the run did not finish after the restart"
        time.sleep(0.5)
    assert run.status == EvaluationRun.Status.FINISHED
    for slot in RunEpisode.objects.filter(run=run).select_related("episode"):
        episode = slot.episode
        assert episode is not None and episode.status == Episode.Status.FINISHED, (slot, slot.error)
        assert episode.steps >= before.get(episode.pk, 0)  # committed steps survive (a replaced episode aside)
        assert_exact_log(episode)
    kept = set(Episode.objects.filter(run_episode__run=run).values_list("pk", flat=True))
    print(f"\nsteps before the restart: {before}; episodes kept: {sorted(kept)}")


def timed_handshake(server: Server, episode_id: int, cookie: str) -> tuple[str, float]:
    """(the handshake's status line, seconds) of one websocket connection attempt."""

    async def attempt() -> str:
        try:
            ws = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", cookie)
        except Closed as refused:
            return str(refused)
        ws.close()
        return "HTTP/1.1 101"

    started = time.monotonic()
    answer = asyncio.run(asyncio.wait_for(attempt(), 60))
    return answer, time.monotonic() - started


def timed_get(url: str) -> tuple[int, float, str]:
    """(status, seconds, Retry-After) of one page request, as a browser asks for it."""
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, time.monotonic() - started, response.headers.get("Retry-After", "")
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started, exc.headers.get("Retry-After", "")


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_while_postgres_is_down_and_serves_once_it_is_back(
    tmp_path: Path, postgres_left_running
) -> None:
    pool_timeout = 2.0
    env = base_env(tmp_path, DATABASE_URL=url_of_the_test_database(), DATABASE_POOL_TIMEOUT=str(pool_timeout))
    server = Server(env, tmp_path / "server.log")
    try:
        episode_id, cookie = start_episode(server.base, "babyai", BABYAI_TASK)
        page = f"{server.base}/episodes/{episode_id}/"
        assert timed_get(page)[0] == 200
        stop_postgres()
        try:
            # Long enough that, without the pool's reconnect_timeout, its attempts would be 8-16 s apart.
            down: list[tuple[int, float, str]] = []
            handshakes: list[tuple[str, float]] = []
            down_until = time.monotonic() + 20
            while time.monotonic() < down_until:
                down.append(timed_get(page))
                handshakes.append(timed_handshake(server, episode_id, cookie))
                time.sleep(1)
        finally:
            start_postgres()
        back_at = time.monotonic()
        while (answer := timed_get(page))[0] != 200 and time.monotonic() - back_at < 60:
            time.sleep(0.5)
        recovered_after = time.monotonic() - back_at
        assert server.process.poll() is None, "the web process died"
    finally:
        server.stop()
    print(
        f"\nwhile down: {[(status, round(seconds, 1)) for status, seconds, _ in down]}; "
        f"serving again {recovered_after:.1f} s after PostgreSQL was back; "
        f"handshakes while down: {[(answer, round(seconds, 2)) for answer, seconds in handshakes]}"
    )
    assert {status for status, _, _ in down} == {503}, down
    assert all(retry_after == "10" for _, _, retry_after in down)
    assert max(seconds for _, seconds, _ in down) < pool_timeout + 3  # no request hangs past the pool's timeout
    # Only the request that met the outage waited for the pool; the breaker refused the rest at once.
    waited = [seconds for _, seconds, _ in down if seconds > 0.5]
    assert len(waited) <= 1 and len(down) >= 10, down
    # The breaker was tripped by the first page: every handshake was refused at once.
    assert all(answer.startswith("HTTP/1.1 403") and seconds < 0.5 for answer, seconds in handshakes), handshakes
    assert answer[0] == 200 and recovered_after < 15
