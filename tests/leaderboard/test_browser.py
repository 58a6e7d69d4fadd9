"""The public leaderboard in a real browser (Debian's Chromium through
Playwright, pytest-django's live server): sorting by clicking headings, the
interval on hover, and an entry's detail page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from games.registry import ENVS
from tests.support.browser import launch, playwright_sync_api
from tests.support.leaderboard_data import full_coverage, human_episode, make_run, model_episodes, player

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000

playwright_api = playwright_sync_api()


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test reads the database between actions
    with playwright_api.sync_playwright() as playwright:
        chromium = launch(playwright)
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
    assert names(page) == ["Humans (all)", "zeta", "alpha"]
    page.click("#board thead th[data-key='crafter'] a")
    assert names(page) == ["zeta", "alpha", "Humans (all)"]  # best first; no crafter episodes: last
    assert page.get_attribute("#board thead th[data-key='crafter']", "aria-sort") == "descending"
    page.click("#board thead th[data-key='crafter'] a")
    assert names(page) == ["alpha", "zeta", "Humans (all)"]  # reversed, missing still last
    page.click("#board thead th[data-key='name'] a")
    assert names(page) == ["alpha", "Humans (all)", "zeta"]
    title = page.get_attribute("#board tr[data-key] td.overall >> nth=0", "title")
    assert title == "too few episodes for an interval"  # alpha has one Crafter episode: no interval, never [x, x]
    page.click("#board tbody th a:text-is('alpha')")
    page.wait_for_selector("#per-game")
    assert page.inner_text("#overall") == "38.3"  # one Crafter episode: its SE is undefined, so no ±
    assert "too few episodes" in page.inner_text("#interval")
    assert "66.7 ± 27.2" in page.inner_text("#per-game")  # [1, 1, 0]: SD .471, SE .272
    assert page.locator("#episodes tbody tr").count() == 4


def test_it_reads_itself(page: Any, live_server: Any, settings: Any) -> None:
    settings.BALROG_LEADERBOARD_TOP_PLAYERS = 3
    settings.BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES = 2
    full_coverage(make_run("complete"), {env: [1.0, 0.0, 0.5] for env in ENVS})
    once = make_run("once")
    for env in ("babyai", "crafter"):
        model_episodes(once, env, [0.4])
    for name, scores in (("ada", [1.0, 0.0]), ("grace", [1.0, 1.0])):
        user = player(name)
        for seed, score in enumerate(scores):
            human_episode("babyai", score, seed=seed, user=user)
    page.goto(f"{live_server.url}/leaderboard/")
    headings = page.locator("#board thead th").all_inner_texts()
    assert "BabyAI" in headings and "NetHack" in headings and "nle" not in headings
    assert "Coverage (tasks)" in headings
    complete = page.locator("#board tbody:not(.apart) tr[data-key]", has_text="complete")
    assert complete.locator("td.coverage").inner_text() == "58/58"
    assert complete.locator("td.overall .ci").is_visible()  # the interval is in the cell, not only a hover
    assert "95%:" in complete.locator("td.overall").inner_text()
    partial = page.locator("#apart tr[data-key]", has_text="once")
    assert partial.locator("td.coverage").inner_text() == "0/58"  # no task at its count: below the ranked ones
    assert partial.locator("td.rank").inner_text() == "–"
    cells = partial.locator("td.num").all_inner_texts()
    assert cells[:3] == ["40.0\ntoo few episodes", "40.0", "40.0"]  # one episode: no "± 0.0"
    rows = [text.strip() for text in page.locator("#board tbody th[scope=row]").all_inner_texts()]
    assert len(rows) == len(set(rows))  # never two rows that read alike
    assert sorted(names(page)) == ["Humans (all)", "ada", "complete", "grace", "once"]
    assert "one player" in page.locator("#board tr.player", has_text="grace").inner_text()
    assert "all 2 players" in page.locator("#board tr.human").inner_text()
    chart = page.locator("#overall-chart svg")
    assert chart.locator("line.err").count() >= 3 and "95% interval" in chart.text_content()
    assert "random agent's level" in page.inner_text("#normalised-rule")


# ----- the side-by-side replay --------------------------------------------------------------
BABYAI_TASK = "BabyAI-MixedTrainLocal-v0/goto"
MODEL_ACTIONS = ["turn left", "turn left", "turn left", "turn left"]
HUMAN_ACTIONS = ["turn left", "turn right", "turn right", "turn left"]  # diverges at step 2


def played_episode(actions: list[str], seed: int, **start: Any) -> Any:
    from games.models import Episode
    from games.services import do_apply_action, do_end_episode, do_start_episode

    episode = do_start_episode(env="babyai", task=BABYAI_TASK, seed=seed, **start)
    for index, action in enumerate(actions):
        do_apply_action(episode.pk, index=index, action=action)
    do_end_episode(episode.pk)
    return Episode.objects.get(pk=episode.pk)


def canvases(page: Any) -> list[str]:
    return [page.eval_on_selector(f"#side-{i} canvas", "canvas => canvas.toDataURL()") for i in (0, 1)]


def at_version(page: Any, version: int) -> None:
    for side in (0, 1):
        page.wait_for_selector(f"#side-{side} .stage[data-version='{version}']")


@pytest.fixture
def compared_pair() -> Iterator[tuple[int, int]]:
    from agents.models import RunEpisode
    from games.cursors import replay_cursors
    from games.executor import close_step_pool
    from games.models import Episode

    seed = 4242
    model = played_episode(MODEL_ACTIONS, seed, player_kind=Episode.PlayerKind.MODEL)
    run = make_run("side-by-side-model")
    RunEpisode.objects.create(run=run, env="babyai", task=BABYAI_TASK, index=0, seed=seed, episode=model)
    human = played_episode(HUMAN_ACTIONS, seed, player_kind=Episode.PlayerKind.HUMAN, user=player("hanna"))
    yield model.pk, human.pk
    replay_cursors().clear()
    close_step_pool()  # its threads hold database connections (frames.json runs there)


def test_it_replays_a_model_and_a_human_side_by_side(page: Any, live_server: Any, compared_pair: Any) -> None:
    model, human = compared_pair
    page.goto(f"{live_server.url}/leaderboard/compare/{model}/{human}/")
    at_version(page, 0)
    start = canvases(page)
    assert page.inner_text("#side-0 .action") == "(start)"

    page.keyboard.press("j")
    at_version(page, 1)
    after_one = canvases(page)
    assert after_one[0] != start[0] and after_one[1] != start[1]  # both agents turned left: both frames changed
    assert page.inner_text("#side-0 .action") == page.inner_text("#side-1 .action") == "turn left"
    assert page.input_value("#scrubber") == "1"

    marker = page.locator("#divergence-marker")
    assert marker.get_attribute("data-version") == "2"
    page.keyboard.press("k")
    at_version(page, 0)
    marker.click()
    at_version(page, 2)
    assert page.input_value("#scrubber") == "2"
    assert page.inner_text("#side-0 .action") == "turn left"
    assert page.inner_text("#side-1 .action") == "turn right"
    assert page.locator(".compare-side.diverged").count() == 2
    diverged = canvases(page)
    assert diverged[0] != diverged[1]  # facing opposite ways now

    page.click("#step-back")
    at_version(page, 1)
    page.click("#jump-divergence")
    at_version(page, 2)

    link = page.get_attribute("#side-1 .replay-at", "href")
    assert link == f"/episodes/{human}/replay/?step=2"
    page.goto(f"{live_server.url}{link}")
    page.wait_for_selector("#stage[data-version='2']")
    assert page.input_value("#scrubber") == "2"


def test_it_refuses_episodes_of_different_games(page: Any, live_server: Any, compared_pair: Any) -> None:
    from games.models import Episode

    model, _human = compared_pair
    other = played_episode(["turn left"], 7, player_kind=Episode.PlayerKind.HUMAN, user=player("otto"))
    response = page.goto(f"{live_server.url}/leaderboard/compare/{model}/{other.pk}/")
    assert response is not None and response.status == 400
    assert "same game" in page.inner_text("#refusal")
