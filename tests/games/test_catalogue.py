"""The catalogue: what each game package declares, read through the registry."""

from __future__ import annotations

import pytest

from games import catalogue
from games.nethack import sidecar
from games.registry import ENVS, PROTOCOL_BALROG, PROTOCOL_BALROGWEB, adapter_class
from reference.prompts import valid_actions

RENDERERS = {"grid", "crafter", "terminal", "text"}  # static/play/js/renderers/
BOXOBAN = "MiniHack-Boxoban-Medium-v0"
MOVES = {"north", "east", "south", "west"}


def test_it_lists_every_game_with_what_its_package_declares() -> None:
    games = catalogue.all_games()
    assert [game.env for game in games] == list(ENVS)
    for game in games:
        assert not game.error and game.tasks
        assert game.title and game.title != game.env and game.blurb
        assert catalogue.game_title(game.env) == game.title
        assert catalogue.renderer(game.env) in RENDERERS
    assert catalogue.game_title("nle") == "NetHack" and catalogue.renderer("nle") == "terminal"


def test_it_draws_an_unknown_game_generically() -> None:
    assert catalogue.renderer("no-such-game") == catalogue.GENERIC_RENDERER


def test_it_shows_only_the_keys_a_boxoban_task_accepts() -> None:
    for protocol in (PROTOCOL_BALROG, PROTOCOL_BALROGWEB):
        bindings = catalogue.key_bindings("minihack", BOXOBAN, protocol)
        assert {binding.action for binding in bindings} == MOVES, protocol
    assert set(valid_actions("minihack", BOXOBAN) or ()) == MOVES


def test_it_shows_only_keys_of_the_reference_minihack_actions() -> None:
    for info in adapter_class("minihack").tasks():
        accepted = set(valid_actions("minihack", info.task) or ())
        shown = {binding.action for binding in catalogue.key_bindings("minihack", info.task, PROTOCOL_BALROG)}
        assert shown and shown <= accepted, info.task


def test_it_shows_only_keys_the_reference_nethack_engine_runs() -> None:
    if not sidecar.available():
        pytest.skip("the reference engine's venv (.venv-nle09) is not installed: scripts/bootstrap.sh makes it")
    task = adapter_class("nle").tasks()[0].task
    adapter = adapter_class("nle", PROTOCOL_BALROG)(task=task, options={})
    try:
        adapter.reset(0)
        shown = {binding.action for binding in catalogue.key_bindings("nle", task, PROTOCOL_BALROG)}
        assert shown == {binding.action for binding in adapter.key_bindings()}  # what the live game accepts
    finally:
        adapter.close()
    assert shown and not shown & {"minus", "apos", "travel"}  # not among the reference's strings


def test_it_keeps_every_key_of_games_with_one_action_set() -> None:
    for env in ("babyai", "crafter", "babaisai"):
        for protocol in (PROTOCOL_BALROG, PROTOCOL_BALROGWEB):
            task = adapter_class(env).tasks()[0].task
            assert catalogue.key_bindings(env, task, protocol) == adapter_class(env, protocol).key_bindings()
    assert catalogue.key_bindings("textworld", adapter_class("textworld").tasks()[0].task) == []
