"""Real Chromium: the play page takes input as the games' own clients do.
NetHack: ``#`` extended commands with completion, Ctrl keys, count prefixes,
``?`` help. TextWorld: the command line focused on load, Tab completion of the
admissible commands, history on the up arrow (across a reload). Any game: a
key dropped because the queue is full is said, in an alert."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import SqliteServer, playwright_sync_api, start, wait_online, wait_version
from tests.support.games import BABYAI_TASK

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_sync_api()  # skips the module without Playwright or Chromium


def test_it_takes_nethack_extended_commands_ctrl_keys_counts_and_help(page: Any, server: SqliteServer) -> None:
    episode_id = start(page, server, "nle", "NetHackChallenge-v0")
    page.keyboard.press("#")
    prompt = page.locator("#extcmd-input")
    assert prompt.is_visible() and page.evaluate("document.activeElement.id") == "extcmd-input"
    prompt.type("lo")
    page.keyboard.press("Tab")
    assert prompt.input_value() == "loo"  # what #look and #loot share
    assert page.locator("#extcmd-list [data-command]").all_inner_texts() == ["#look", "#loot"]
    prompt.type("k")
    page.keyboard.press("Enter")
    wait_version(page, 1)
    assert not prompt.is_visible()

    page.keyboard.press("#")
    prompt.type("xyzzy")
    page.keyboard.press("Enter")
    assert page.inner_text("#extcmd-status") == "#xyzzy: no such command in this game"
    page.keyboard.press("Escape")
    assert not prompt.is_visible()

    page.keyboard.press("Control+d")  # kick: NetHack asks for a direction
    wait_version(page, 2)
    page.keyboard.press("Escape")
    wait_version(page, 3)

    turn = int(page.inner_text('[data-hud="turn"]'))
    for version, key in enumerate(["2", "0", "s"], start=4):
        page.keyboard.press(key)
        wait_version(page, version)
    # One search takes a turn; counted, up to twenty (a monster coming into view interrupts it).
    assert turn + 1 < int(page.inner_text('[data-hud="turn"]')) <= turn + 20
    assert page.inner_text("#nethack-count") == "20 × search"

    assert server.steps(episode_id) == [
        ("look", "#look"), ("kick", "^D"), ("esc", "Escape"), ("2", "2"), ("0", "0"), ("search", "s"),
    ]  # fmt: skip

    page.keyboard.press("?")
    help_box = page.locator("#nethack-help")
    assert help_box.is_visible() and "#pray" in help_box.inner_text() and "Ctrl+D kick" in help_box.inner_text()
    page.keyboard.press("Escape")
    assert not help_box.is_visible()
    assert server.episode(episode_id)["steps"] == 6  # help and its Escape sent nothing


def test_it_completes_and_recalls_textworld_commands(page: Any, server: SqliteServer) -> None:
    """New episodes play the reference protocol, whose games track no admissible
    commands: the command line completes the game's verbs and the player's own commands."""
    episode_id = start(page, server, "textworld", "coin_collector")
    command = page.locator("#command-input")
    assert page.evaluate("document.activeElement.id") == "command-input"
    verbs: list[str] = page.evaluate("window.balrog.state.verbs")
    assert "look" in verbs and "inventory" in verbs
    assert page.locator("#command-options option").count() == len(verbs)
    command.type("loo")
    page.keyboard.press("Tab")
    assert command.input_value() == "look"
    page.keyboard.press("Enter")
    wait_version(page, 1)
    command.type("inventory")
    page.keyboard.press("Enter")
    wait_version(page, 2)
    assert [raw for _, raw in server.steps(episode_id)] == ["look", "inventory"]

    page.reload()
    wait_online(page)
    assert page.evaluate("document.activeElement.id") == "command-input"
    page.wait_for_function("window.balrog.state.commands.length === 2")
    page.keyboard.press("ArrowUp")
    assert command.input_value() == "inventory"
    page.keyboard.press("ArrowUp")
    assert command.input_value() == "look"


def test_it_says_when_a_key_is_dropped(page: Any, server: SqliteServer) -> None:
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    # Twelve presses in one task: one goes out, eight wait, three find the queue full.
    page.evaluate(
        "for (let i = 0; i < 12; i++) document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowLeft'}))"
    )
    alert = page.locator("#dropped[role=alert]")
    assert alert.is_visible() and alert.inner_text().startswith("3 keys dropped (last: ←)")
    wait_version(page, 9)
    assert server.episode(episode_id)["steps"] == 9
    alert.wait_for(state="hidden")
