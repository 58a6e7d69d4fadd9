"""Fixtures for real Celery worker processes (registered for every test by
tests/conftest.py): a queue of the test's own, a way to start workers on it
(stopped after the test), and the development model server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from agents.devserver import DevModelServer, start_dev_server
from tests.support.postgres import url_of_the_test_database
from tests.support.settings_files import ROOT


@pytest.fixture
def worker_queue() -> str:
    return f"test-{os.getpid()}-{time.monotonic_ns()}"


@pytest.fixture
def start_worker(worker_queue: str) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(pool: tuple[str, ...] = ("--pool", "solo"), **extra_env: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DATABASE_URL": url_of_the_test_database(), **extra_env}
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "balrogweb", "worker", "-Q", worker_queue, *pool,
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"],
            cwd=ROOT, env=env,
        )  # fmt: skip
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


@pytest.fixture
def model_server() -> Iterator[DevModelServer]:
    server = start_dev_server()
    yield server
    server.stop()
