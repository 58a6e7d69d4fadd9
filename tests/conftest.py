from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest

from agents import runtime
from games import registry
from games.live import live_games
from ops.outage import DatabaseBreaker
from play.services import shared_step_messages
from tests.support.outage import FakeDatabase

# Fixtures more than one directory's tests use: the browser tests' server, Chromium and
# page; the real Celery workers' queue, workers and model server.
pytest_plugins = ["tests.support.fixtures_browser", "tests.support.fixtures_workers"]


@pytest.fixture
def toy_game() -> Iterator[str]:
    """Register the toy game under the env key ``toy`` for one test (one game
    for both protocols: it has no reference to be faithful to)."""
    registry.GAMES["toy"] = registry.GameModules("tests.games", "toy.ToyAdapter", "toy.ToyAdapter")
    registry.adapter_class.cache_clear()
    yield "toy"
    registry.GAMES.pop("toy", None)
    registry.adapter_class.cache_clear()


@pytest.fixture(autouse=True)
def fresh_live_games() -> Iterator[None]:
    """Each test starts with no adapters (nor step messages) cached in this
    process: a rolled-back test gives its episode ids to the next one."""
    live_games().clear()
    shared_step_messages().clear()
    yield
    live_games().clear()
    shared_step_messages().clear()


@pytest.fixture(autouse=True)
def no_background_model_sweep(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No periodic model-episode sweep behind a test's back. On the embedded
    default the agents pages and every dispatch start one for the process
    (agents.evaluation.ensure_local_sweep): started by one test, it would go
    on sweeping every BALROG_AGENT_SWEEP_SECONDS through the tests after it,
    dispatching again, at a moment set by the wall clock, the planned
    episodes a test is playing itself (issue 24). Tests sweep by calling
    agents.evaluation.do_recover_stale(); tests/agents/test_runtime.py checks
    the sweeper itself."""
    monkeypatch.setattr(runtime, "ensure_sweeper", lambda sweep: None)
    yield
    assert runtime.stop_sweeper(timeout=60), "a model-episode sweep outlived its test"


@pytest.fixture(scope="session", autouse=True)
def empty_channel_layer() -> None:
    """On Redis, start the session with no channel-layer keys. Test databases
    are created afresh, so episode ids repeat from one run to the next, while
    group memberships left in Redis by an earlier run live for a day: a stale
    member of ``episode-1`` would make this run's episode 1 look watched."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    flush = getattr(layer, "flush", None)
    if layer is not None and flush is not None and type(layer).__name__ == "RedisChannelLayer":
        async_to_sync(flush)()


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def breaker(database: FakeDatabase) -> Iterator[DatabaseBreaker]:
    """The process's breaker, replaced by one that probes the fake database
    (and trips on SQLite too)."""
    replacement = database.breaker()
    with (
        mock.patch("ops.errors.BREAKER", replacement),
        mock.patch("ops.websocket.BREAKER", replacement),
        mock.patch("play.consumers.BREAKER", replacement),
    ):
        yield replacement
