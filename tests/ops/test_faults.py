"""Faults with real processes on loopback: the web process SIGKILLed in the
middle of human play (reconnect to a new one: no step lost, none doubled, the
episode still replays), and Redis restarted during play (its own
redis-server on a free port, never the machine's shared one)."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.games import BABYAI_TASK, BABYAI_TURNS
from tests.support.profile import use_profile
from tests.support.servers import Server, base_env, migrate, start_redis
from tests.support.settings_files import ROOT
from tests.support.wsclient import Closed, WebSocket, hello, start_episode

pytestmark = pytest.mark.slow


async def act(ws: WebSocket, seq: int, action: str) -> dict[str, object]:
    ws.send(json.dumps({"type": "action", "seq": seq, "action": action, "input": action}))
    reply: dict[str, object] = json.loads(await asyncio.wait_for(ws.receive(), 20))
    return reply


async def close_code(ws: WebSocket) -> int:
    """Read frames until the server's close frame; its status code."""
    while True:
        first, second = await ws.reader.readexactly(2)
        payload = await ws.reader.readexactly(second & 0x7F)  # server frames here are short and unmasked
        if first & 0x0F == 0x8:
            code: int = struct.unpack("!H", payload[:2])[0]
            return code


def verify(env: dict[str, str], episode_id: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "verify_episodes", str(episode_id)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_loses_no_step_when_the_web_process_is_sigkilled_mid_game(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    migrate(env)
    first = Server(env, tmp_path / "server.log")
    try:
        episode_id, cookie = start_episode(first.base, "babyai", BABYAI_TASK)

        async def before_kill() -> None:
            ws = await WebSocket.connect("127.0.0.1", first.port, f"/ws/episodes/{episode_id}/", cookie)
            assert (await hello(ws, None))["version"] == 0
            for seq in range(5):
                assert (await act(ws, seq, BABYAI_TURNS[seq % 2]))["version"] == seq + 1
            ws.send(json.dumps({"type": "action", "seq": 5, "action": "turn left", "input": "turn left"}))
            first.kill()  # with an action in flight: applied or not, never twice
            with pytest.raises((Closed, asyncio.IncompleteReadError, ConnectionError)):
                await asyncio.wait_for(ws.receive(), 20)

        asyncio.run(before_kill())
    finally:
        first.stop()
    second = Server(env, tmp_path / "server.log")
    try:

        async def after_restart() -> int:
            ws = await WebSocket.connect("127.0.0.1", second.port, f"/ws/episodes/{episode_id}/", cookie)
            snapshot = await hello(ws, 5)
            version = int(snapshot["version"])  # type: ignore[call-overload]
            assert version in (5, 6) and snapshot["status"] == "running"
            # The in-flight action, resent with its seq: a duplicate if it was applied, else applied now.
            resent = await act(ws, 5, "turn left")
            assert resent["type"] == "ack" and resent["version"] == 6
            assert resent["duplicate"] is (version == 6)
            for seq in range(6, 9):
                assert (await act(ws, seq, BABYAI_TURNS[seq % 2]))["version"] == seq + 1
            ws.close()
            return 9

        steps = asyncio.run(after_restart())
    finally:
        second.stop()
    checked = verify(env, episode_id)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert steps == 9


def readyz(base: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_it_keeps_playing_and_reports_unready_across_a_redis_restart(own_redis: tuple[int, Path]) -> None:
    port, directory = own_redis
    start_redis(port, directory)
    env = base_env(directory, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    migrate(env)
    server = Server(env, directory / "server.log")
    try:
        episode_id, cookie = start_episode(server.base, "babyai", BABYAI_TASK)
        assert readyz(server.base)[0] == 200

        async def play_across_restart() -> None:
            ws = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", cookie)
            await hello(ws, None)
            for seq in range(3):
                assert (await act(ws, seq, BABYAI_TURNS[seq % 2]))["version"] == seq + 1
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10)
            # Without its channel the consumer cannot live: the guard closes with 1012, the
            # client reconnects (as static/play/js/socket.js does) once Redis is back.
            assert await asyncio.wait_for(close_code(ws), 20) == 1012
            ws.close()
            status, body = await asyncio.to_thread(readyz, server.base)
            assert status == 503 and {"channel_layer", "broker"} <= set(body["failed"])  # type: ignore[call-overload]
            start_redis(port, directory)
            ws = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", cookie)
            assert (await hello(ws, 3))["version"] == 3  # nothing lost, nothing doubled
            for seq in range(3, 6):
                assert (await act(ws, seq, BABYAI_TURNS[seq % 2]))["version"] == seq + 1
            # A viewer connecting after the restart gets live steps again.
            viewer = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", "")
            assert (await hello(viewer, None))["version"] == 6
            assert (await act(ws, 6, "turn right"))["type"] == "ack"
            event = json.loads(await asyncio.wait_for(viewer.receive(), 20))
            assert (event["type"], event["version"]) == ("step", 7)
            ws.close()
            viewer.close()

        asyncio.run(play_across_restart())
        assert server.process.poll() is None  # the server survived
        assert readyz(server.base)[0] == 200
    finally:
        server.stop()
    checked = verify(env, episode_id)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_it_closes_floods_and_oversized_messages_with_1008_and_1009_through_the_real_server(tmp_path: Path) -> None:
    """The standard codes reach the client: the server must be able to send them (daphne could not)."""
    env = base_env(tmp_path, BALROG_WS_MESSAGES_PER_SECOND="5", BALROG_WS_MESSAGE_BURST="10")
    migrate(env)
    server = Server(env, tmp_path / "server.log")
    try:
        episode_id, cookie = start_episode(server.base, "babyai", BABYAI_TASK)

        async def abuse() -> tuple[int, int]:
            flood = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", cookie)
            for n in range(50):
                flood.send(json.dumps({"type": "ping", "t": n}))
            flooded = await asyncio.wait_for(close_code(flood), 20)
            flood.close()
            big = await WebSocket.connect("127.0.0.1", server.port, f"/ws/episodes/{episode_id}/", cookie)
            big.send(json.dumps({"type": "ping", "t": "x" * 20000}))
            oversized = await asyncio.wait_for(close_code(big), 20)
            big.close()
            return flooded, oversized

        assert asyncio.run(abuse()) == (1008, 1009)
        assert server.process.poll() is None
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "invalid close code" not in log, log[-3000:]


@pytest.mark.django_db
def test_it_adds_up_model_calls_from_other_processes_in_metrics(own_redis: tuple[int, Path], settings: Any) -> None:
    """A Celery worker serves no HTTP: its shared counters reach /metrics through Redis."""
    from django.contrib.auth.models import User
    from django.test import Client

    from ops import metrics

    port, directory = own_redis
    start_redis(port, directory)
    url = f"redis://127.0.0.1:{port}/0"
    env = base_env(directory, REDIS_URL=url)
    code = "from ops import metrics; metrics.model_calls.inc(3); metrics.model_errors.inc(); metrics.flush_shared()"
    for _ in range(2):  # two "worker" processes
        subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    client = Client()
    client.force_login(User.objects.create_superuser("ops-root", password="pw-root-123"))  # /metrics: superusers
    use_profile(settings, redis_url=url)
    text = client.get("/metrics").content.decode()
    metrics._clients.clear()
    assert "\nbalrog_cluster_model_calls_total 6.0\n" in text
    assert "\nbalrog_cluster_model_call_errors_total 2.0\n" in text
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10)
    down = client.get("/metrics")  # Redis down: still the per-process numbers
    metrics._clients.clear()
    assert down.status_code == 200 and "balrog_model_calls_total" in down.content.decode()
