"""Playing on a phone (390x844, touch) in Debian's Chromium: the game fits the width,
on-screen buttons play the grid games and Crafter by touch, TextWorld's input is usable;
and on any size, abandoning asks first and "Play again" skips the setup page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import TIMEOUT_MS, SqliteServer, playwright_sync_api, start, wait_online, wait_version

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_sync_api()  # skips the module without Playwright or Chromium

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def fits(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


@pytest.mark.parametrize(
    ("env", "task", "view"),
    [
        ("babyai", "BabyAI-MixedTrainLocal-v0/goto", ".grid-canvas"),
        ("babaisai", "env/goto_win", ".grid-canvas"),
        ("crafter", "default", ".crafter-canvas"),
    ],
)
def test_it_plays_by_touch_on_a_phone(phone: Any, server: SqliteServer, env: str, task: str, view: str) -> None:
    episode_id = start(phone, server, env, task)
    fits(phone)
    stage = phone.locator("#stage").bounding_box()
    drawn = phone.locator(view).bounding_box()
    assert drawn["width"] <= stage["width"] and drawn["x"] >= stage["x"]  # scaled to the width, not cut
    buttons = phone.locator("#action-buttons .action")
    actions = buttons.evaluate_all("buttons => buttons.map(b => b.dataset.action)")
    first = next(i for i, action in enumerate(actions) if action not in ("noop", "done"))
    buttons.nth(first).tap()
    wait_version(phone, 1)
    assert server.steps(episode_id)[0][0] == actions[first]


def test_it_scales_the_nethack_terminal_to_a_phone(phone: Any, server: SqliteServer) -> None:
    start(phone, server, "nle", "NetHackChallenge-v0")
    fits(phone)
    terminal = phone.locator(".terminal")
    assert terminal.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")  # all 80 columns shown
    assert phone.locator(".terminal .term-line").count() == 24


def test_it_takes_typed_commands_on_a_phone(phone: Any, server: SqliteServer) -> None:
    episode_id = start(phone, server, "textworld", "coin_collector")
    fits(phone)
    field = phone.locator("#command-input")
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 150
    field.tap()
    field.fill("look")
    field.press("Enter")
    wait_version(phone, 1)
    assert server.steps(episode_id)[0] == ("look", "look")


def test_it_asks_before_abandoning_then_plays_again_without_the_setup_page(browser: Any, server: SqliteServer) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    episode_id = start(page, server, "babyai", "BabyAI-MixedTrainLocal-v0/goto")
    asked: list[str] = []

    def refuse(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", refuse)
    page.click("#abandon-form button")
    assert asked and "Abandon" in asked[0]
    assert server.episode(episode_id)["status"] == "running"  # refused: nothing ended
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#abandon-form button")
    page.wait_for_selector("#end-panel:not([hidden])")
    assert server.episode(episode_id)["status"] == "abandoned"
    page.click("#play-again button")
    page.wait_for_url("**/episodes/*/")
    wait_online(page)
    again = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert again != episode_id
    assert server.episode(again)["task"] == "BabyAI-MixedTrainLocal-v0/goto"
    assert server.query("SELECT nickname FROM games_episode WHERE id = ?", again) == [("Browser Tester",)]
    page.close()


def test_it_asks_before_abandoning_from_the_setup_page(browser: Any, server: SqliteServer) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    task = "BabyAI-MixedTrainLocal-v0/pickup"
    episode_id = start(page, server, "babyai", task)
    page.goto(f"{server.url}/play/babyai/?task={task}")
    asked: list[str] = []

    def refuse(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", refuse)
    page.click("#abandon-in-progress button")
    assert asked == [f"Abandon episode {episode_id}? It is scored as it stands."]
    assert server.episode(episode_id)["status"] == "running"
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#abandon-in-progress button")
    assert server.episode(episode_id)["status"] == "abandoned"
    page.close()
