"""The public leaderboard in a real browser (Debian's Chromium through
Playwright, pytest-django's live server): sorting by clicking headings, the
interval on hover, and an entry's detail page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.leaderboard.conftest import human_episode, make_run, model_episodes, player

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 20_000

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test reads the database between actions
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        tab = chromium.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        yield tab
        chromium.close()
        assert not errors


def names(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("#board tbody th a").all_inner_texts()]


def test_it_sorts_in_the_browser_and_opens_an_entry(page: Any, live_server: Any) -> None:
    alpha = make_run("alpha")
    model_episodes(alpha, "babyai", [1.0, 1.0, 0.0])
    model_episodes(alpha, "crafter", [0.1])
    zeta = make_run("zeta")
    model_episodes(zeta, "babyai", [0.0, 0.0])
    model_episodes(zeta, "crafter", [0.9])
    human_episode("babyai", 1.0, user=player())
    page.goto(f"{live_server.url}/leaderboard/")
    page.wait_for_selector("#board[data-enhanced='1']")
    # by overall: humans 100, zeta (0 + 90) / 2 = 45, alpha (66.7 + 10) / 2 = 38.3
    assert names(page) == ["Humans", "zeta", "alpha"]
    page.click("#board thead th[data-key='crafter'] a")
    assert names(page) == ["zeta", "alpha", "Humans"]  # best first; no crafter episodes: last
    assert page.get_attribute("#board thead th[data-key='crafter']", "aria-sort") == "descending"
    page.click("#board thead th[data-key='crafter'] a")
    assert names(page) == ["alpha", "zeta", "Humans"]  # reversed, missing still last
    page.click("#board thead th[data-key='name'] a")
    assert names(page) == ["alpha", "Humans", "zeta"]
    title = page.get_attribute("#board tr[data-key] td.overall >> nth=0", "title")
    assert title is not None and title.startswith("95% bootstrap interval")
    page.click("#board tbody th a:text-is('alpha')")
    page.wait_for_selector("#per-game")
    assert "38.3 ±" in page.inner_text("#overall")
    assert "95% bootstrap interval" in page.inner_text("#interval")
    assert "66.7 ± 27.2" in page.inner_text("#per-game")  # [1, 1, 0]: SD .471, SE .272
    assert page.locator("#episodes tbody tr").count() == 4
