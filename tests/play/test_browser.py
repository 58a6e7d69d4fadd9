"""Real-browser tests: Debian's Chromium driven by Playwright against the real server.

The server is the production entry point (``manage.py serve``: uvicorn)
in a subprocess, on the embedded default with its own SQLite file, which the
tests read directly to check what was recorded. No browser is downloaded:
Chromium comes from apt (scripts/test installs it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from games.registry import adapter_class, make_adapter
from reference.view import model_view
from tests.support.browser import (
    TIMEOUT_MS,
    SqliteServer,
    playwright_sync_api,
    start,
    wait_online,
    wait_replay_at,
    wait_version,
)
from tests.support.games import BABYAI_TASK

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLAYWRIGHT_KEYS = {" ": "Space"}

playwright_sync_api()  # skips the module without Playwright or Chromium


def press(page: Any, key: str) -> None:
    page.keyboard.press(PLAYWRIGHT_KEYS.get(key, key))


def babyai_solution(seed: int) -> list[str]:
    """The keys that win the episode: the BabyAI bot's moves on a copy of the game."""
    from games.babyai.bot import BabyAIBotPolicy

    adapter: Any = make_adapter("babyai", BABYAI_TASK)
    adapter.reset(seed)
    bot = BabyAIBotPolicy(adapter)
    key_of = {b.action: b.key for b in reversed(adapter_class("babyai").key_bindings())}
    keys = []
    while not adapter.done:
        action = bot.next_action()
        adapter.step(action)
        keys.append(key_of[action])
    return keys


def test_it_plays_babyai_to_a_win_with_the_keyboard(page: Any, server: SqliteServer) -> None:
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    keys = babyai_solution(server.episode(episode_id)["seed"])
    for version, key in enumerate(keys, start=1):
        press(page, key)
        wait_version(page, version)
        assert page.inner_text('[data-hud="steps"]') == str(version)
    page.wait_for_selector("#end-panel:not([hidden])")
    assert page.inner_text('[data-end="progression"]') == "100.0"
    assert page.inner_text('[data-end="reason"]') == "won"
    assert page.inner_text('[data-hud="progression"]') == "100.0 / 100"
    recorded = server.episode(episode_id)
    assert (recorded["status"], recorded["end_reason"], recorded["steps"]) == ("finished", "won", len(keys))
    assert [raw for _, raw in server.steps(episode_id)] == keys


def test_it_sends_nethack_keys_to_the_game(page: Any, server: SqliteServer) -> None:
    episode_id = start(page, server, "nle", "NetHackChallenge-v0")
    assert page.locator(".terminal .term-line").count() == 24
    for version, key in enumerate(["j", "l", "s", "K"], start=1):
        press(page, key)
        wait_version(page, version)
    assert server.steps(episode_id) == [("south", "j"), ("east", "l"), ("search", "s"), ("far north", "K")]
    assert "Dlvl:1" in page.inner_text(".terminal")
    assert page.inner_text('[data-hud="depth"]') == "1"


def test_it_reconnects_after_the_socket_drops_without_losing_keys(page: Any, server: SqliteServer) -> None:
    # BabyAI turns in place: no key here can end the (randomly seeded) episode
    # early, so all five steps must arrive, in order.
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    press(page, "ArrowLeft")
    wait_version(page, 1)
    page.evaluate("window.balrog.socket.drop()")
    for key in ("ArrowRight", "ArrowRight", "ArrowLeft"):  # pressed while the socket is down: queued
        press(page, key)
    page.wait_for_function("window.balrog.socket.opened === 2")
    wait_version(page, 4)
    actions = [action for action, _ in server.steps(episode_id)]
    assert actions == ["turn left", "turn right", "turn right", "turn left"]
    page.evaluate("window.balrog.socket.drop()")  # and once more, with nothing pending
    page.wait_for_function("window.balrog.socket.opened === 3")
    wait_online(page)
    press(page, "ArrowRight")
    wait_version(page, 5)
    assert server.episode(episode_id)["steps"] == 5


def test_it_keeps_a_move_the_server_could_not_save_and_sends_it_again(page: Any, server: SqliteServer) -> None:
    refused: list[dict[str, Any]] = []

    def refuse_the_first_action(route: Any) -> None:
        # Between the page and the real server: the first action is answered as
        # a server that cannot reach its database answers it; the rest pass.
        upstream = route.connect_to_server()

        def from_page(text: str | bytes) -> None:
            message = json.loads(text)
            if message.get("type") == "action" and not refused:
                refused.append(message)
                route.send(json.dumps({"type": "error", "code": "unavailable", "seq": message["seq"], "message": ""}))
                return
            upstream.send(text)

        route.on_message(from_page)

    page.route_web_socket(re.compile(r"/ws/episodes/\d+/$"), refuse_the_first_action)
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    press(page, "ArrowLeft")
    page.wait_for_selector('#notice:has-text("your move is kept")')
    press(page, "ArrowRight")  # queued behind the refused move
    wait_version(page, 2)
    assert [message["seq"] for message in refused] == [0]
    assert page.evaluate("window.balrog.socket.opened") == 2  # it reconnected and sent the move again
    assert [action for action, _ in server.steps(episode_id)] == ["turn left", "turn right"]
    assert page.inner_text("#notice") == ""


def test_it_shows_the_models_view(page: Any, server: SqliteServer) -> None:
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    press(page, "ArrowLeft")
    wait_version(page, 1)
    assert page.is_hidden("#observation")
    page.check("#model-view-toggle")
    expected: Any = make_adapter("babyai", BABYAI_TASK, {"protocol": "balrog"})  # new episodes' protocol
    expected.reset(server.episode(episode_id)["seed"])
    expected.step("turn left")
    page.wait_for_function("document.getElementById('observation').textContent.length > 0")
    assert page.text_content("#observation") == model_view(expected)
    assert model_view(expected).startswith("Current Observation:\n")  # what the reference sends a model
    press(page, "ArrowUp")
    wait_version(page, 2)
    expected.step("go forward")
    page.wait_for_function(
        "text => document.getElementById('observation').textContent === text", arg=model_view(expected)
    )


def test_it_plays_a_replay(page: Any, server: SqliteServer) -> None:
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    for version, key in enumerate(["ArrowLeft", "ArrowLeft", "t"], start=1):
        press(page, key)
        wait_version(page, version)
    page.click("#abandon-form button")
    page.wait_for_selector("#end-panel:not([hidden])")
    page.click("#replay-link")
    page.wait_for_url(f"**/episodes/{episode_id}/replay/")
    wait_replay_at(page, 0)
    page.select_option("#speed", "25")
    page.click("#play-pause")
    wait_replay_at(page, 3)
    assert page.inner_text("#position") == "3 / 3"
    step_info = page.inner_text("#step-info")
    assert "toggle" in step_info and "Input\nt" in step_info
    page.keyboard.press("k")
    wait_replay_at(page, 2)
    page.keyboard.press("j")
    wait_replay_at(page, 3)
    page.fill("#scrubber", "1")
    wait_replay_at(page, 1)
    assert page.inner_text('[data-hud="steps"]') == "1"


@pytest.mark.parametrize(
    ("env", "task", "keys", "drawn"),
    [
        ("babyai", BABYAI_TASK, ["ArrowUp"], "canvas.grid-canvas"),
        ("babaisai", "env/goto_win", ["ArrowUp"], ".rules li"),
        ("crafter", "default", ["a", " "], ".vitals .vital"),
        ("textworld", "coin_collector", [], ".transcript .turn"),
        ("minihack", "MiniHack-Corridor-R3-v0", ["l"], ".terminal .term-line"),
        ("nle", "NetHackChallenge-v0", ["l"], ".terminal .term-line"),
    ],
)
def test_it_draws_every_game(
    page: Any, server: SqliteServer, tmp_path: Path, env: str, task: str, keys: list[str], drawn: str
) -> None:
    start(page, server, env, task)
    for version, key in enumerate(keys, start=1):
        press(page, key)
        wait_version(page, version)
    if env == "textworld":
        page.fill("#command-input", "look")
        page.press("#command-input", "Enter")
        wait_version(page, 1)
        assert page.locator(".transcript .turn").count() == 2
        assert page.inner_text(".transcript .command-echo") == "> look"
    assert page.locator(drawn).count() > 0
    assert page.locator("#action-buttons button").count() > 0
    page.screenshot(path=str(tmp_path / f"{env}.png"))
    shots = os.environ.get("BALROG_SCREENSHOT_DIR")  # set it to look at the pages
    if shots:
        page.screenshot(path=str(Path(shots) / f"{env}.png"))


def test_it_asks_for_the_steps_a_lost_broadcast_skipped(page: Any, browser: Any, server: SqliteServer) -> None:
    """A viewer whose step message for version 2 never arrives (a broadcast
    lost while Redis was down) sees version 3 skip ahead, asks for a sync from
    the version it drew, and draws every step."""
    episode_id = start(page, server, "babyai", BABYAI_TASK)
    watcher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    watcher.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    watcher.on("pageerror", lambda error: errors.append(str(error)))
    syncs: list[int] = []

    def lose_version_2(route: Any) -> None:
        upstream = route.connect_to_server()

        def from_server(text: str | bytes) -> None:
            message = json.loads(text)
            if not (message.get("type") == "step" and message.get("version") == 2):
                route.send(text)

        def from_page(text: str | bytes) -> None:
            message = json.loads(text)
            if message.get("type") == "sync":
                syncs.append(message["version"])
            upstream.send(text)

        upstream.on_message(from_server)
        route.on_message(from_page)

    watcher.route_web_socket(re.compile(r"/ws/episodes/\d+/$"), lose_version_2)
    watcher.goto(f"{server.url}/episodes/{episode_id}/")
    wait_online(watcher)
    for version, key in enumerate(("ArrowLeft", "ArrowRight", "ArrowLeft"), 1):
        press(page, key)
        wait_version(page, version)
        if version != 2:
            wait_replay_at(watcher, version)
    assert syncs == [1]
    assert watcher.evaluate("window.balrog.socket.version") == 3
    watcher.context.close()
    assert not errors, errors
