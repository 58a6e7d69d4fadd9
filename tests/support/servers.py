"""The production server (``manage.py serve``) and Redis as real processes on
loopback, each on a free port, for the fault tests and the browser checks that
need a database of their own: the environment they run in, the migrated
database, and a private redis-server (never the machine's shared one). The
``own_redis`` fixture is tests/ops/conftest.py's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.settings_files import ROOT
from tests.support.wsclient import free_port, wait_up


class Server:
    """The production server (``manage.py serve``) on a free loopback port, on the given environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.log = log.open("ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_up(self.base)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def base_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="balrogweb.settings",
        BALROG_VAR_DIR=str(var_dir),
        BALROG_GAME_DATA_DIR=str(ROOT / "var" / "games"),
        **extra,
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def server_with_data(var_dir: Path, script: str, **settings: str) -> tuple[Server, Any]:
    """A fresh database filled by ``script`` (run in ``manage.py shell``), the
    JSON its last printed line holds, and a server started on that database
    (with ``settings`` in its environment)."""
    env = base_env(var_dir, **settings)
    migrate(env)
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=180, check=True,
    )  # fmt: skip
    data = json.loads(made.stdout.strip().splitlines()[-1])
    return Server(env, var_dir / "server.log"), data


def start_redis(port: int, directory: Path) -> None:
    subprocess.run(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "yes", "--dir", str(directory), "--logfile", str(directory / "redis.log")],
        check=True, timeout=10,
    )  # fmt: skip
    # Until it answers; the deadline only stops a redis that never starts (it was 5 s:
    # short for a busy machine, issue 24).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip()
            == "PONG"
        ):
            return
        time.sleep(0.05)
    raise RuntimeError("redis did not start")
