"""Real Celery worker processes playing model episodes against the development
model server: the run they play, the pools and lease settings they play it
with. The fixtures (``worker_queue``, ``start_worker``, ``model_server``) are
in tests/support/fixtures_workers.py."""

from __future__ import annotations

import time

from agents.config import AgentConfig
from agents.devserver import DevModelServer
from agents.evaluation import RunRequest, do_start_run
from agents.models import EvaluationRun, ModelEndpoint

# A worker with a short lease: heartbeats every 0.3 s, stale after 2 s, swept every second.
FAST_LEASES = {"BALROG_AGENT_HEARTBEAT_SECONDS": "0.3", "BALROG_AGENT_STALE_SECONDS": "2",
               "BALROG_AGENT_SWEEP_SECONDS": "1"}  # fmt: skip
THREADS_POOL = ("--pool", "threads", "-c", "8")


def model_run(server: DevModelServer, queue: str, env: str, tasks: tuple[str, ...], episodes: int,
              model: str) -> EvaluationRun:  # fmt: skip
    endpoint = ModelEndpoint.objects.create(name=f"dev-{queue}", provider="dev", base_url=server.url,
                                            model_id=model, queue=queue, retry_base_delay=0.05)  # fmt: skip
    request = RunRequest(endpoint, AgentConfig("cot"), envs=(env,), tasks=tasks, episodes_per_task=episodes)
    return do_start_run(request)  # dispatched to the worker's queue once committed


def wait_for(predicate: object, timeout: float, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(poll)
    raise AssertionError("timed out waiting for the worker")
