"""Fixtures for model-episode tests: the development model server over real
HTTP, endpoints pointing at it, and clean-up of the agents' threads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from agents.client import forget_clients
from agents.config import AgentConfig
from agents.devserver import DevModelServer, start_dev_server
from agents.evaluation import RunRequest, do_start_run
from agents.models import EvaluationRun, ModelEndpoint
from agents.runtime import close_db_pool, wait_local_jobs
from tests.support.games import BABYAI_TASK


@pytest.fixture
def dev_server() -> Iterator[DevModelServer]:
    server = start_dev_server()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def agent_threads(settings: Any) -> Iterator[None]:
    """One database thread for the agents' work (the periodic sweep is off in
    every test: tests/conftest.py). The embedded test database is SQLite in
    memory with a shared cache, where two connections writing one table fail
    at once instead of waiting (a file database in WAL mode, the embedded
    default, waits). Pool threads hold database connections: they are closed
    after the test, once the local runner has finished what the test
    dispatched to it (a run can be marked finished a moment before its last
    runner has freed its lease: that write must not land in the next test)."""
    settings.BALROG_AGENT_DB_THREADS = 1
    close_db_pool()
    yield
    assert wait_local_jobs(timeout=300), "a local runner job outlived its test"
    close_db_pool()
    forget_clients()


@receiver(connection_created)
def _readers_do_not_wait_for_writers(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Shared-cache SQLite: let readers (the test, the dev server) read while the pool thread writes."""
    if connection.vendor == "sqlite" and "mode=memory" in str(connection.settings_dict.get("NAME", "")):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")


@pytest.fixture
def make_endpoint(dev_server: DevModelServer) -> Callable[..., ModelEndpoint]:
    def make(model: str = "random", **fields: Any) -> ModelEndpoint:
        defaults: dict[str, Any] = {
            "name": f"dev-{model}-{ModelEndpoint.objects.count()}",
            "provider": ModelEndpoint.Provider.DEV,
            "base_url": dev_server.url,
            "model_id": model,
            "timeout_seconds": 5.0,
            "retries": 2,
            "retry_base_delay": 0.01,
        }
        return ModelEndpoint.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def make_run() -> Callable[..., EvaluationRun]:
    """A run planned but not dispatched (tests drive the runner themselves). The
    runner's mechanics are tested on this project's "balrogweb" texts unless a
    test names the reference's protocol ("balrog")."""

    def make(
        endpoint: ModelEndpoint,
        env: str = "babyai",
        tasks: tuple[str, ...] = (BABYAI_TASK,),
        episodes: int = 1,
        seed_base: int = 0,
        protocol: str = "balrogweb",
        **config: Any,
    ) -> EvaluationRun:
        request = RunRequest(
            endpoint=endpoint,
            config=AgentConfig(**config),
            envs=(env,),
            tasks=tasks,
            episodes_per_task=episodes,
            seed_base=seed_base,
            protocol=protocol,
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)
            return do_start_run(request)

    return make
