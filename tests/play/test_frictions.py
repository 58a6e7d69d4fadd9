"""Small frictions of issue 18.7, through the pages: a nickname suggested to anonymous
players, "Play again" without the setup page, an end said once, the episode list in
the admin, and a queue's filters in words."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from annotations.filters import describe
from games.models import Episode
from games.services import do_start_episode
from tests.support.games import BABYAI_TASK
from tests.support.pages import logged_in, start_anonymously
from tests.support.personas import Persona

pytestmark = pytest.mark.django_db

NICKNAME = re.compile(r'name="nickname" value="([^"]*)"')


def suggested(client: Client) -> str:
    match = NICKNAME.search(client.get(f"/play/babyai/?task={BABYAI_TASK}").content.decode())
    assert match, "no nickname suggested"
    return match.group(1)


def test_it_suggests_a_nickname_then_remembers_the_chosen_one() -> None:
    client = Client()
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d\d", suggested(client))
    start_anonymously(client, nickname="Zed")
    assert suggested(client) == "Zed"
    assert suggested(Client()) != "Zed"  # another visitor gets a fresh one


def play_again(client: Client, episode: Episode) -> Episode:
    html = client.get(f"/episodes/{episode.pk}/").content.decode()
    form = html.split('id="play-again"')[1].split("</form>")[0]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    response = client.post(f"/play/{episode.env}/", fields)
    assert response.status_code == 302, response.content.decode()[:1000]
    return Episode.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_it_plays_again_with_the_last_choices_without_the_setup_page() -> None:
    client = Client()
    first = start_anonymously(client, nickname="Zed")
    assert client.post(f"/episodes/{first.pk}/abandon/").status_code == 302
    again = play_again(client, first)
    assert again.pk != first.pk and again.is_running
    assert (again.env, again.task, again.nickname) == (first.env, first.task, "Zed")


def test_it_plays_a_model_episodes_seed_again(pat: Persona) -> None:
    model = do_start_episode(env="babyai", task=BABYAI_TASK, seed=777, player_kind="model", agent="m")
    client = logged_in(pat)
    response = client.post(
        f"/play/babyai/?task={BABYAI_TASK}",
        {"task": BABYAI_TASK, "seed": "model", "model_episode": str(model.pk)},
    )
    first = Episode.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    client.post(f"/episodes/{first.pk}/abandon/")
    again = play_again(client, first)
    assert again.pk != first.pk and again.seed == first.seed == 777


def test_it_offers_play_again_only_to_the_player(pat: Persona, olga: Persona) -> None:
    episode = pat.start("babyai", BABYAI_TASK)
    logged_in(pat).post(f"/episodes/{episode.pk}/abandon/")
    assert 'id="play-again"' not in logged_in(olga).get(f"/episodes/{episode.pk}/").content.decode()


def test_it_says_abandoned_once(pat: Persona) -> None:
    episode = pat.start("babyai", BABYAI_TASK)
    client = logged_in(pat)
    client.post(f"/episodes/{episode.pk}/abandon/")
    profile = client.get("/accounts/profile/").content.decode()
    assert "abandoned (abandoned)" not in profile and "<td>abandoned</td>" in profile
    page = client.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'data-end="reason">abandoned</span> <span class="muted" data-end="detail">by the player</span>' in page


def test_it_lists_episodes_read_only_in_the_admin(pat: Persona) -> None:
    episode = pat.start("babyai", BABYAI_TASK)
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    listing = admin.get("/admin/games/episode/?env=babyai")
    assert listing.status_code == 200 and f"/admin/games/episode/{episode.pk}/change/" in listing.content.decode()
    detail = admin.get(f"/admin/games/episode/{episode.pk}/change/").content.decode()
    assert BABYAI_TASK in detail and 'name="_save"' not in detail  # a step log's episode is never edited
    assert admin.get("/admin/games/episode/add/").status_code == 403


def test_it_describes_queue_filters_in_words() -> None:
    stored = {"env": "nle", "player_kind": "model", "run": 7, "outcome": "failed", "order": "oldest", "limit": 20}
    text = describe(stored)
    assert text == "Models' nle episodes of run 7 that ended: failed (ended without a win), oldest first, at most 20"
    assert describe({"order": "random"}) == "Episodes, in random order"
