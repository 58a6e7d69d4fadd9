"""The runtime registry: every per-process object is declared in it by name."""

from __future__ import annotations

from importlib import import_module

import pytest

import play.limits
from balrogweb.runtime import ProcessSingleton, built, singletons

MODULES = (
    "agents.runner",
    "agents.runtime",
    "games.events",
    "games.live",
    "games.executor",
    "games.cursors",
    "play.services",
    "play.snapshots",
)
EXPECTED = {
    "agents.db_threads",
    "agents.lease_keeper",
    "agents.local_runner",
    "games.broadcaster",
    "games.live_games",
    "play.action_limiter",
    "games.replay_cursors",
    "play.shared_step_messages",
    "play.viewer_texts",
    "play.viewer_views",
    "games.step_threads",
    "play.viewer_limits",
}


def test_it_lists_what_a_process_holds() -> None:
    for module in MODULES:
        import_module(module)  # each module declares its singletons when imported
    assert set(singletons()) >= EXPECTED


def test_it_builds_on_first_use_and_forgets_on_take() -> None:
    play.limits.reset_action_limiter()
    assert "play.action_limiter" not in built()
    limiter = play.limits.action_limiter()
    assert "play.action_limiter" in built() and play.limits.action_limiter() is limiter
    play.limits.reset_action_limiter()
    assert "play.action_limiter" not in built() and play.limits.action_limiter() is not limiter


def test_it_refuses_two_singletons_of_one_name() -> None:
    with pytest.raises(ValueError, match="two process singletons"):
        ProcessSingleton("play.action_limiter", dict)
