"""The pages of browser play, through Django's test client."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from games.models import Episode
from games.registry import ENVS, adapter_class
from games.services import do_apply_action, do_start_episode
from play.models import PlayRecord
from play.services import SESSION_TOKEN_KEY, anon_key
from tests.support.games import BABYAI_TASK
from tests.support.pages import logged_in, start_anonymously
from tests.support.personas import Persona
from tests.support.websocket import MODEL_VIEW_HEADER as VIEW

pytestmark = pytest.mark.django_db

PICKUP_TASK = "BabyAI-MixedTrainLocal-v0/pickup"


def config_of(html: str) -> dict:
    match = re.search(r'<script id="play-config" type="application/json">(.*?)</script>', html, re.S)
    assert match
    data: dict = json.loads(match.group(1))
    return data


def test_it_lists_every_game_with_its_tasks_on_the_home_page() -> None:
    html = Client().get("/").content.decode()
    for env in ENVS:
        assert f'id="game-{env}"' in html
        for info in adapter_class(env).tasks()[:3]:
            assert info.task.replace("&", "&amp;") in html
    assert "Walk up to the named object" in html  # a TaskInfo.description
    assert 'href="/leaderboard/"' in html


def test_it_starts_an_anonymous_episode_with_a_nickname_and_resumes_it() -> None:
    client = Client()
    form = client.get(f"/play/babyai/?task={BABYAI_TASK}")
    assert form.status_code == 200 and b'name="nickname"' in form.content
    refused = client.post(f"/play/babyai/?task={BABYAI_TASK}", {"task": BABYAI_TASK, "seed": "random"})
    assert refused.status_code == 200 and b"This field is required" in refused.content
    episode = start_anonymously(client)
    token = client.session[SESSION_TOKEN_KEY]
    record = PlayRecord.objects.get(episode=episode)
    assert (record.owner, record.live, episode.nickname, episode.user) == (anon_key(token), True, "Zed", None)
    again = start_anonymously(client)
    assert again.pk == episode.pk and Episode.objects.count() == 1
    other_task = start_anonymously(client, PICKUP_TASK)
    assert other_task.pk != episode.pk


def test_it_requires_the_csrf_token_to_start() -> None:
    client = Client(enforce_csrf_checks=True)
    data = {"task": BABYAI_TASK, "nickname": "x", "seed": "random"}
    response = client.post(f"/play/babyai/?task={BABYAI_TASK}", data)
    assert response.status_code == 403 and Episode.objects.count() == 0


def test_it_plays_the_seed_of_a_model_episode() -> None:
    model = do_start_episode(env="babyai", task=BABYAI_TASK, seed=4242, player_kind="model", agent="gpt-x/naive")
    episode = start_anonymously(Client(), seed="model", model_episode=str(model.pk))
    assert episode.seed == 4242
    assert PlayRecord.objects.get(episode=episode).seed_from_id == model.pk
    wrong = Client().post(
        f"/play/babyai/?task={PICKUP_TASK}",
        {"task": PICKUP_TASK, "nickname": "Zed", "seed": "model", "model_episode": str(model.pk)},
    )
    assert wrong.status_code == 200 and b"not this task" in wrong.content


@override_settings(BALROG_PLAY_EPISODES_PER_HOUR=2)
def test_it_limits_how_many_episodes_a_player_starts() -> None:
    client = Client()
    start_anonymously(client, BABYAI_TASK)
    start_anonymously(client, PICKUP_TASK)
    task = "BabyAI-MixedTrainLocal-v0/open"
    response = client.post(f"/play/babyai/?task={task}", {"task": task, "nickname": "Zed", "seed": "random"})
    assert response.status_code == 200 and b"try again later" in response.content
    assert Episode.objects.count() == 2


def test_it_serves_the_play_page_with_controls_and_escaped_names(pat: Persona) -> None:
    client = Client()
    episode = start_anonymously(client, nickname="<script>alert(1)</script>")
    html = client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    config = config_of(html)
    assert config["socket"] == f"/ws/episodes/{episode.pk}/" and config["renderer"] == "grid"
    assert {"key": "ArrowUp", "action": "go forward", "label": "Up arrow"} in config["bindings"]
    assert "<kbd>" in html and "go forward" in html
    assert b"your game" in client.get(f"/episodes/{episode.pk}/").content
    assert b"watching" in logged_in(pat).get(f"/episodes/{episode.pk}/").content


def test_it_shows_the_end_screen_with_the_same_seeds_model_episodes(pat: Persona) -> None:
    client = logged_in(pat)
    episode = pat.start("babyai", BABYAI_TASK)
    model = do_start_episode(env="babyai", task=BABYAI_TASK, seed=episode.seed, player_kind="model", agent="m1")
    other_seed = do_start_episode(
        env="babyai", task=BABYAI_TASK, seed=episode.seed + 1, player_kind="model", agent="m2"
    )
    assert client.post(f"/episodes/{episode.pk}/abandon/").status_code == 302
    html = client.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'id="end-panel" hidden' not in html
    # Compare links, not the agent's short name: "m2" can occur in the page's
    # random CSRF token (it did, once in CI).
    assert f'href="/episodes/{model.pk}/replay/"' in html
    assert f'href="/episodes/{other_seed.pk}/replay/"' not in html
    assert f'href="/episodes/{episode.pk}/replay/"' in html
    assert client.get(f"/episodes/{episode.pk}/replay/").status_code == 200


def test_it_lets_only_the_player_abandon(pat: Persona, olga: Persona) -> None:
    episode = pat.start("babyai", BABYAI_TASK)
    logged_in(olga).post(f"/episodes/{episode.pk}/abandon/")
    episode.refresh_from_db()
    assert episode.status == "running"
    logged_in(pat).post(f"/episodes/{episode.pk}/abandon/")
    episode.refresh_from_db()
    assert (episode.status, episode.end_detail) == ("abandoned", "by the player")


def test_it_redirects_the_replay_of_a_running_episode(pat: Persona) -> None:
    episode = pat.start("babyai", BABYAI_TASK)
    response = Client().get(f"/episodes/{episode.pk}/replay/")
    assert response.status_code == 302 and response["Location"] == f"/episodes/{episode.pk}/"
    assert Client().get("/episodes/99999/").status_code == 404


def test_it_signs_up_logs_out_and_in_and_lists_ones_episodes() -> None:
    client = Client()
    password = "a-long-pass-phrase-9"
    response = client.post("/accounts/signup/", {"username": "newbie", "password1": password, "password2": password})
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    episode = start_anonymously(client)  # logged in now: the nickname field is not asked
    assert episode.user == user and PlayRecord.objects.get(episode=episode).owner == f"u:{user.pk}"
    profile = client.get("/accounts/profile/").content.decode()
    assert f'href="/episodes/{episode.pk}/"' in profile
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/profile/").status_code == 302  # to the login page
    assert client.post("/accounts/login/", {"username": "newbie", "password": password}).status_code == 302
    assert client.get("/accounts/profile/").status_code == 200


def test_it_moves_anonymous_games_to_the_account_on_sign_up() -> None:
    client = Client()
    played = start_anonymously(client)
    password = "a-long-pass-phrase-9"
    response = client.post("/accounts/signup/", {"username": "latecomer", "password1": password, "password2": password})
    assert response.status_code == 302
    user = User.objects.get(username="latecomer")
    played.refresh_from_db()
    assert played.user == user and PlayRecord.objects.get(episode=played).owner == f"u:{user.pk}"
    assert PlayRecord.objects.get(episode=played).counts_as_baseline
    assert f'href="/episodes/{played.pk}/"' in client.get("/accounts/profile/").content.decode()


def test_it_keeps_a_live_anonymous_game_anonymous_when_the_account_has_one_on_that_task(pat: Persona) -> None:
    own = pat.start("babyai", BABYAI_TASK)
    client = Client()
    anonymous = start_anonymously(client)
    finished = start_anonymously(client, PICKUP_TASK)
    Episode.objects.filter(pk=finished.pk).update(status=Episode.Status.FINISHED)
    PlayRecord.objects.filter(episode=finished).update(live=False)
    assert client.post("/accounts/login/", {"username": "pat", "password": "pat-password-123"}).status_code == 302
    owners = dict(PlayRecord.objects.values_list("episode_id", "owner"))
    assert owners[own.pk] == owners[finished.pk] == f"u:{pat.user.pk}"
    assert owners[anonymous.pk].startswith("a:")  # the session still reaches it
    assert client.get(f"/episodes/{anonymous.pk}/").status_code == 200


def test_it_serves_static_files_and_crafters_textures() -> None:
    client = Client()
    assert client.get("/static/play/js/play.js").status_code == 200
    texture: Any = client.get("/static/crafter/zombie.png")
    assert texture.status_code == 200 and b"".join(texture)[:4] == b"\x89PNG"  # streamed by ServeStatic


@pytest.mark.django_db(transaction=True)  # the view replays in a worker thread
def test_it_serves_frames_of_an_episode_by_replay(toy_game: str, pat: Persona) -> None:
    episode = pat.start("toy", "corridor")
    for index in range(3):
        do_apply_action(episode.pk, index=index, action="wait", raw_input=" ")
    running = Client().get(f"/episodes/{episode.pk}/frames.json?start=2&count=50").json()
    assert [f["version"] for f in running["frames"]] == [2, 3]  # clipped to the log
    data = Client().get(f"/episodes/{episode.pk}/frames.json?start=1&count=2&observation=1").json()
    assert (data["start"], data["total"], len(data["frames"])) == (1, 4, 2)
    assert [f["version"] for f in data["frames"]] == [1, 2]
    assert data["frames"][0]["step"]["index"] == 0 and data["frames"][0]["step"]["input"] == " "
    assert data["frames"][1]["observation"].startswith(VIEW + "You are at cell")
    assert Client().get(f"/episodes/{episode.pk}/frames.json?start=x").status_code == 400


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"task": "BabyAI-MixedTrainLocal-v0/no-such-task"}, "task", "does not offer the task"),
        ({"task": ""}, "task", "No task was chosen"),
        ({"seed": "lucky"}, "seed", "Choose a random seed or the seed of a model episode"),
        ({"seed": "model", "model_episode": "abc"}, "model_episode", "Enter a whole number"),
        ({"seed": "model", "model_episode": str(2**63)}, "model_episode", "There is no model episode with this number"),
        ({"seed": "model", "model_episode": "999999"}, "model_episode", "there is no model episode 999999"),
    ],
)
def test_it_shows_a_bad_start_request_next_to_its_field(data: dict[str, str], field: str, message: str) -> None:
    """Never a silent re-render: an unknown or stale task and a bad seed are errors the page shows."""
    response = Client().post(f"/play/babyai/?task={BABYAI_TASK}", {"task": BABYAI_TASK, "nickname": "Zed", **data})
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    html = response.content.decode()
    assert 'class="errorlist' in html and message.split(" (")[0] in html.replace("&#x27;", "'")
    assert Episode.objects.count() == 0


def test_it_lists_only_the_controls_the_task_accepts() -> None:
    html = Client().get("/play/minihack/?task=MiniHack-Boxoban-Medium-v0").content.decode()
    start = html.index('<table class="bindings">')
    table = html[start : html.index("</table>", start)]
    actions = set(re.findall(r"</kbd></td><td>([a-z ]+)", table))
    assert actions == {"north", "east", "south", "west"}  # Boxoban's moves: no "far north", no "pickup"
