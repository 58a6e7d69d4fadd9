"""Live view of a model episode another process plays, on the embedded default.

    .venv/bin/python bench/live_feed.py [--latency 0.1] [--root /path/to/checkout]

A fresh SQLite database in a temporary directory; ``manage.py serve`` (the web
process) and ``manage.py evaluate`` (its own process, as a person runs it from
a shell) against a scripted model (agents/devserver.py, in this process) with
``--latency`` seconds per answer; one websocket viewer of the episode on the
web process. Printed: steps played, steps the viewer received as ``step``
messages, whether they came in order, and the delay from each step's commit
(Step.created_at) to its arrival at the viewer, p50/p95/max; and the web
process's CPU seconds while it fed the viewer. ``--root`` runs another
checkout's code (e.g. one without the feed, for the before figure).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from ws_load import Closed, WebSocket, cpu_seconds, free_port, wait_up  # noqa: E402

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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per model answer")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs")
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from agents.devserver import start_dev_server

    model = start_dev_server()
    with tempfile.TemporaryDirectory(prefix="live-feed-") as tmp:
        var_dir = Path(tmp)
        env = process_env(args.root, var_dir)
        prepare(args.root, env, model.url, f"random@{args.latency}")
        server, port = start_server(args.root, env, var_dir / "server.log")
        try:
            evaluation = start_evaluation(args.root, env, var_dir / "evaluate.log")
            episode_id = wait_for_episode(var_dir, evaluation)
            cpu_before = sum(cpu_seconds(server.pid))
            seen = asyncio.run(watch(port, episode_id, args.seconds))
            cpu = sum(cpu_seconds(server.pid)) - cpu_before
            evaluation.wait(timeout=args.seconds)
            report(var_dir, episode_id, seen, cpu)
        finally:
            server.terminate()
            server.wait(timeout=20)
            model.shutdown()  # its solvers were never opened: no database to close
            model.server_close()


def report(var_dir: Path, episode_id: int, seen: Watched, cpu: float) -> None:
    steps = committed_steps(var_dir, episode_id)
    first = int(seen.snapshot.get("version") or 0)
    indexes = [m["step"]["index"] for m in seen.steps]
    in_order = indexes == list(range(first, first + len(indexes)))
    committed_at = {index: created.timestamp() for index, _, created in steps}
    delays = [1000 * (at - committed_at[i]) for i, at in zip(indexes, seen.arrived, strict=True) if i in committed_at]
    print(f"feed: {seen.welcome.get('feed', '(none: no feed field)')}")
    print(f"steps played: {len(steps)}; in the viewer's snapshot: {first}; received live: {len(seen.steps)}")
    print(f"in order and complete: {in_order and first + len(indexes) == len(steps)}; end seen: {seen.end is not None}")
    if delays:
        print(f"commit -> viewer ms: p50 {pct(delays, 0.5):.0f}  p95 {pct(delays, 0.95):.0f}  max {max(delays):.0f}")
    print(f"web process CPU while watching: {cpu:.2f} s")


if __name__ == "__main__":
    main()
