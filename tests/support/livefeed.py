"""The harness of the live-view check: a web process and an ``evaluate``
process on one fresh SQLite database, a scripted model, and a websocket viewer
of the model's episode. Used by tests/play/test_live_feed.py and by
bench/live_feed.py, which prints the figures."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.wsclient import Closed, WebSocket, free_port, wait_up

ENV, TASK = "babyai", "BabyAI-MixedTrainLocal-v0/goto"
ENDPOINT = "dev-live"


def process_env(root: Path, var_dir: Path) -> dict[str, str]:
    """The embedded default: no DATABASE_URL or REDIS_URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="balrogweb.settings",
        BALROG_VAR_DIR=str(var_dir),
        BALROG_GAME_DATA_DIR=os.environ.get("BALROG_GAME_DATA_DIR", str(root / "var" / "games")),
    )
    return env


def prepare(root: Path, env: dict[str, str], model_url: str, model: str) -> None:
    """Migrate the fresh database and register the scripted model's endpoint."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=root, env=env, check=True)
    script = (
        "from agents.models import ModelEndpoint as M; "
        f"M.objects.create(name={ENDPOINT!r}, provider=M.Provider.DEV, base_url={model_url!r}, model_id={model!r})"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=root, env=env, check=True)


def start_server(root: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_up(f"http://127.0.0.1:{port}")
    return process, port


def start_evaluation(root: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "manage.py", "evaluate", "--endpoint", ENDPOINT, "--env", ENV, "--task", TASK,
               "--episodes", "1", "--poll", "0.5"]  # fmt: skip
    return subprocess.Popen(command, cwd=root, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def database(var_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(var_dir / "balrogweb.sqlite3", timeout=30)


def wait_for_episode(var_dir: Path, evaluation: subprocess.Popen[bytes], seconds: float = 120) -> int:
    """The model episode the evaluation started, once it exists."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if evaluation.poll() is not None:
            raise RuntimeError(f"evaluate exited with {evaluation.returncode} before its episode started")
        with database(var_dir) as db:
            row = db.execute("SELECT id FROM games_episode WHERE player_kind = 'model' ORDER BY id LIMIT 1").fetchone()
        if row is not None:
            return int(row[0])
        time.sleep(0.1)
    raise RuntimeError("no model episode started")


def committed_steps(var_dir: Path, episode_id: int) -> list[tuple[int, str, datetime]]:
    """(index, action, commit time) of the episode's steps, in order."""
    with database(var_dir) as db:
        rows = db.execute(
            "SELECT `index`, action, created_at FROM games_step WHERE episode_id = ? ORDER BY `index`", (episode_id,)
        ).fetchall()
    return [
        (int(index), str(action), datetime.fromisoformat(created).replace(tzinfo=UTC))
        for index, action, created in rows
    ]


@dataclass
class Watched:
    welcome: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)  # the step messages, in arrival order
    arrived: list[float] = field(default_factory=list)  # time.time() of each
    end: dict[str, Any] | None = None


async def watch(port: int, episode_id: int, seconds: float) -> Watched:
    """A viewer of the episode until its end (or ``seconds``)."""
    ws = await WebSocket.connect("127.0.0.1", port, f"/ws/episodes/{episode_id}/", "")
    ws.send(json.dumps({"type": "hello", "protocol": 2, "version": None}))
    seen = Watched()
    deadline = time.monotonic() + seconds
    try:
        while seen.end is None:
            message = json.loads(await asyncio.wait_for(ws.receive(), max(0.01, deadline - time.monotonic())))
            kind = message["type"]
            if kind in ("welcome", "snapshot"):
                setattr(seen, kind, message)
                seen.end = message.get("end")
            elif kind == "step":
                seen.steps.append(message)
                seen.arrived.append(time.time())
                seen.end = message.get("end")
            elif kind == "ended":
                seen.end = message["end"]
    except (TimeoutError, Closed):
        pass
    finally:
        ws.close()
    return seen
