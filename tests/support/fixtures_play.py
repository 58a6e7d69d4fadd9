"""The play personas and per-test play state, shared by the play and ops tests:
tests/play/conftest.py and tests/ops/conftest.py import these fixtures, so
``fresh_play_state`` (autouse) applies to those two directories only, never to
every test (this module is not among tests/conftest.py's ``pytest_plugins``).

Three personas (tests.support.personas): ``pat`` (the player, logged in),
``olga`` (another logged-in player) and ``visitor``, anonymous, known only by
a session token. Each has a session cookie for websocket connections through
the full ASGI application (tests.support.websocket).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections

from games.cursors import replay_cursors
from games.executor import close_step_pool
from play.limits import reset_action_limiter
from play.snapshots import viewer_texts, viewer_views
from tests.support.personas import Persona, make_persona, make_visitor


@pytest.fixture
def pat(db: None) -> Persona:
    return make_persona("pat")


@pytest.fixture
def olga(db: None) -> Persona:
    return make_persona("olga")


@pytest.fixture
def visitor(db: None) -> Persona:
    return make_visitor()


@pytest.fixture(autouse=True)
def fresh_play_state() -> Iterator[None]:
    """No replay cursors, cached texts or rate buckets carried between tests."""
    replay_cursors().clear()
    viewer_texts().clear()
    viewer_views().clear()
    reset_action_limiter()
    yield
    replay_cursors().clear()
    viewer_texts().clear()
    viewer_views().clear()
    reset_action_limiter()
    close_step_pool()  # its threads hold database connections
    # So does asgiref's thread for thread-sensitive sync code (auth, sessions, database_sync_to_async).
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
