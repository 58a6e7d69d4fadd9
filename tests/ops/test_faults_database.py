"""Database connections killed under the app (``pg_terminate_backend`` on this
test run's own database; the server itself stays up): the pool lends no dead
connection, a step whose connection died is retried once, 4 players keep
playing through two kills of every app connection (no acknowledged step lost,
no traceback, the pause measured), ``verify_episodes --all`` during play
exits 0, and ``evaluate`` and a Celery worker carry on through a kill.

PostgreSQL only (DATABASE_URL); the evaluate test needs Redis too. The
measured pauses are printed (docs/faults.md quotes them)."""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from games.models import Episode, Step
from games.services import do_verify_episode
from ops import metrics
from ops.outage import retry_on_lost_connection
from tests.support.games import BABYAI_TASK
from tests.support.postgres import drop_dead_connections, url_of_the_test_database
from tests.support.servers import Server, base_env
from tests.support.settings_files import ROOT
from tests.support.workers import THREADS_POOL
from tests.support.wsclient import DISCONNECTED, WebSocket, hello, send_action, start_episode

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="kills PostgreSQL connections: needs DATABASE_URL on PostgreSQL",
    ),
]

PLAYERS = 4
# Crafter: 2,000 steps before its time limit (BabyAI's is a few dozen: a player at
# this pace would end its game during the test), and standing still ends nothing.
PLAY_ENV, PLAY_TASK, MOVE = "crafter", "default", "Noop"
IDLE_CONNECTIONS = 6
STALL_S = 5.0  # a pause this long is a stall, whatever the load
ACTION_GAP_S = 0.1  # a player's pace: 10 actions a second, under the per-episode rate limit


def kill_app_connections() -> int:
    """Terminate every other connection to this test database (the server's,
    the workers', the commands'), from a connection of its own; how many."""
    with psycopg.connect(url_of_the_test_database(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def fill_pool(count: int) -> set[int]:
    """Make the pool hold ``count`` idle connections, as after a burst of
    requests; their backend pids."""
    pool = connection.pool  # type: ignore[attr-defined]  # PostgreSQL's wrapper only
    assert pool is not None
    loans = [pool.getconn() for _ in range(count)]
    pids = {loan.info.backend_pid for loan in loans}
    for loan in loans:
        pool.putconn(loan)
    return pids


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return int(pid)


@pytest.mark.django_db(transaction=True)
def test_it_never_lends_a_pooled_connection_the_server_dropped() -> None:
    first = backend_pid()
    connection.close()  # back to the pool, where it now dies
    kill_app_connections()
    assert backend_pid() != first  # the pool's check found it dead and lent a fresh one: no error


@pytest.mark.django_db(transaction=True)
def test_it_lends_a_live_connection_soon_when_many_idle_ones_died() -> None:
    """A busy process's pool holds many idle connections, and they die together.
    Lent one by one they cost psycopg_pool's backoff, 1 + 2 + 4 + 8 s, past the
    10 s pool timeout: the loan failed. ops.postgresql tests them all at the
    first dead one."""
    connection.close()
    idle = fill_pool(IDLE_CONNECTIONS)
    kill_app_connections()
    started = time.monotonic()
    assert backend_pid() not in idle  # no PoolTimeout: a fresh connection
    print(f"\nfirst loan after {len(idle)} idle connections died: {time.monotonic() - started:.2f} s")


@pytest.mark.django_db(transaction=True)
def test_it_drops_a_kept_connection_the_server_hung_up_on_before_the_call() -> None:
    before = metrics.value("balrog_database_retries_total")
    first = backend_pid()  # this thread now keeps a connection, as a pool thread does between calls
    kill_app_connections()
    raw = connection.connection
    assert raw is not None
    deadline = time.monotonic() + 10
    while not select.select([raw.pgconn.socket], [], [], 0.05)[0]:  # the terminated backend's goodbye
        assert time.monotonic() < deadline, "the server never hung up"
    assert retry_on_lost_connection(backend_pid)() != first
    assert metrics.value("balrog_database_retries_total") == before  # found before the call: nothing failed


@pytest.mark.django_db(transaction=True)
def test_it_retries_a_call_once_when_its_connection_dies_under_it() -> None:
    before = metrics.value("balrog_database_retries_total")
    killed: list[int] = []

    def dies_the_first_time() -> int:
        if not killed:
            killed.append(kill_app_connections())  # mid-call: the next query meets the dead connection
        return Episode.objects.count()

    backend_pid()
    assert retry_on_lost_connection(dies_the_first_time)() == 0
    assert metrics.value("balrog_database_retries_total") == before + 1


class Player:
    """One anonymous player acting at ACTION_GAP_S, reconnecting and resending
    the same seq as static/play/js/socket.js does; the time of every ack."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.episode_id, self.cookie = start_episode(server.base, PLAY_ENV, PLAY_TASK)
        self.acked: list[int] = []
        self.ack_times: list[float] = []
        self.reconnects = 0
        self.errors: list[str] = []
        self.slowest_ack_ms = 0.0  # the server's own time for one action (ack "server_ms")
        self.ended = False
        self.until = 0.0  # when to stop (the scenario may bring it forward)

    async def play(self, until: float) -> None:
        self.until = until
        ws = await self._connect(None)
        seq = 0
        while time.monotonic() < self.until:
            reply = await self._act(ws, seq)
            if reply is not None and reply["type"] == "ack":
                self.slowest_ack_ms = max(self.slowest_ack_ms, float(reply.get("server_ms", 0.0)))  # type: ignore[arg-type]
                self.acked.append(seq)
                self.ack_times.append(time.monotonic())
                seq += 1
                await asyncio.sleep(ACTION_GAP_S)
                continue
            self.errors.append(str(reply and reply.get("code")))
            if reply is not None and reply.get("code") == "not_running":
                self.ended = True  # the game ended (a Crafter zombie): a result, not a fault
                await asyncio.wait_for(ws.receive(), 20)  # its "ended" follows: read it before leaving
                break
            ws.close()
            await asyncio.sleep(0.25)  # the browser's first backoff
            self.reconnects += 1
            try:
                ws = await self._connect(seq)
            except DISCONNECTED:
                continue
        ws.close()

    async def _connect(self, version: int | None) -> WebSocket:
        ws = await WebSocket.connect("127.0.0.1", self.server.port, f"/ws/episodes/{self.episode_id}/", self.cookie)
        await hello(ws, version)
        return ws

    async def _act(self, ws: WebSocket, seq: int) -> dict[str, object] | None:
        return await send_action(ws, seq, MOVE)

    def longest_pause_after(self, moment: float) -> float:
        """Seconds from ``moment`` to the first ack after it, less the usual pace."""
        later = [t for t in self.ack_times if t > moment]
        return (later[0] - moment - ACTION_GAP_S) if later else float("inf")


def verify_all(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "verify_episodes", "--all"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_4_players_play_on_through_two_kills_of_every_app_connection(tmp_path: Path) -> None:
    env = base_env(tmp_path, DATABASE_URL=url_of_the_test_database())
    server = Server(env, tmp_path / "server.log")
    kills: list[float] = []
    try:
        players = [Player(server) for _ in range(PLAYERS)]
        verified: list[subprocess.CompletedProcess[str]] = []

        async def scenario() -> None:
            until = time.monotonic() + 60
            games = [asyncio.create_task(player.play(until)) for player in players]
            # Every game warmed up first (a new process's first Crafter world compiles numba: seconds).
            while min(len(player.acked) for player in players) < 5:
                assert time.monotonic() < until - 20, "the players could not start"
                await asyncio.sleep(0.05)
            started = time.monotonic()
            for player in players:
                player.until = started + 12
            for at in (2.0, 7.0):
                await asyncio.sleep(started + at - time.monotonic())
                kills.append(time.monotonic())
                await asyncio.to_thread(kill_app_connections)
            # While they play: running episodes are checked up to the prefix their rows said.
            verified.append(await asyncio.to_thread(verify_all, env))
            await asyncio.gather(*games)

        asyncio.run(scenario())
        assert server.process.poll() is None, "the web process died"
    finally:
        server.stop()
    drop_dead_connections()
    playing = [player for player in players if not player.ended]
    per_kill = [[round(player.longest_pause_after(kill), 2) for player in playing] for kill in kills]
    pauses = [max(column) for column in zip(*per_kill, strict=True)]
    assert len(playing) >= PLAYERS // 2, "games ended under the test: it measured too little"
    print(
        f"\nkilled every app connection twice under {PLAYERS} players ({PLAYERS - len(playing)} games ended): "
        f"pause of each player after each kill "
        f"{per_kill} s; reconnects {[p.reconnects for p in players]}; "
        f"errors {[p.errors for p in players]}; acked {[len(p.acked) for p in players]}; "
        f"slowest server time of an action {[round(p.slowest_ack_ms) for p in players]} ms"
    )
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-4000:]
    assert " 500 " not in log and "message failed" not in log, log[-4000:]
    (checked,) = verified
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "MISMATCH" not in checked.stdout
    for player in players:
        episode = Episode.objects.get(pk=player.episode_id)
        indexes = list(Step.objects.filter(episode=episode).values_list("index", flat=True).order_by("index"))
        assert player.acked == list(range(len(player.acked))) and indexes == list(range(episode.steps))
        assert episode.status == (Episode.Status.FINISHED if player.ended else Episode.Status.RUNNING)
        assert set(player.acked) <= set(indexes), "acknowledged steps lost"
        assert do_verify_episode(episode).ok
    # Recovered, not stalled: the stall this replaced waited for the pool's 10 s timeout (measured
    # 2-12 s). Issue 25's 1.5 s target is measured, not asserted (printed above; docs/faults.md):
    # on a machine busy with other work a player's next ack can wait seconds for the scheduler.
    assert max(pauses) < STALL_S, per_kill


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Celery worker needs REDIS_URL")
@pytest.mark.django_db(transaction=True)
def test_evaluate_and_its_worker_carry_on_through_a_connection_kill(
    start_worker,
    worker_queue: str,
    model_server,
    tmp_path: Path,
) -> None:
    from agents.models import ModelEndpoint

    ModelEndpoint.objects.create(
        # random: the solver reads the game from this (killed) process's database connection
        name="dev-faults",
        provider="dev",
        base_url=model_server.url,
        model_id="random@0.02",
        queue=worker_queue,
    )
    start_worker(THREADS_POOL)
    env = {**os.environ, "DATABASE_URL": url_of_the_test_database()}
    command = [sys.executable, "manage.py", "evaluate", "--endpoint", "dev-faults", "--agent", "naive",
               "--env", "babyai", "--task", BABYAI_TASK, "--episodes", "4", "--poll", "0.5"]  # fmt: skip
    evaluate = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: dict[str, str] = {}
    streams = ("stdout", "stderr")
    reader = threading.Thread(target=lambda: out.update(zip(streams, evaluate.communicate(timeout=300), strict=True)))
    reader.start()
    deadline = time.monotonic() + 120
    while not Step.objects.filter(episode__run_episode__run__endpoint__name="dev-faults").exists():
        assert time.monotonic() < deadline, "nothing played"
        time.sleep(0.2)
    killed_at = time.monotonic()
    kill_app_connections()
    drop_dead_connections()
    reader.join(300)
    finished_after = time.monotonic() - killed_at
    print(f"\nevaluate finished {finished_after:.1f} s after its connections were killed")
    print(out["stderr"][-500:])
    assert evaluate.returncode == 0, out["stderr"][-3000:]
    summary = json.loads(out["stdout"][out["stdout"].index("\n{") :])
    assert summary  # the report, printed at the end
    assert "Traceback" not in out["stderr"], out["stderr"][-3000:]
    for episode in Episode.objects.filter(run_episode__run__endpoint__name="dev-faults"):
        assert episode.status == Episode.Status.FINISHED, (episode.end_reason, episode.end_detail)
        assert do_verify_episode(episode).ok
