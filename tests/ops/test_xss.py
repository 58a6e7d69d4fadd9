"""XSS payloads in a username, an episode nickname, a player's typed input and
TextWorld's own text (which echoes the command) are inert on every page
reachable with the episode's id, for its player and for a staff admin,
including the admin's change lists and change pages."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from django.test import Client

from games.models import Episode
from play import services
from play.protocol import Action
from tests.ops.test_authorization import concrete, routes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAYLOADS = {
    "username": "<img src=x onerror=alert('user')>",
    "nickname": '"><script>alert("nick")</script>',
    "input": "<svg onload=alert('input')>",
    "command": "take <script>alert('tw')</script>",
}
RAW_MARKERS = ("<script>alert(", "<img src=x onerror", "<svg onload")


def play_step(episode: Episode, seq: int, action: str, typed: str) -> None:
    message = Action(seq=seq, action=action, raw_input=typed, source="text")
    services.apply_player_action(
        episode.pk, message, with_observation=True, known_actions=(), received=time.perf_counter()
    )


def hostile_episodes(user: User) -> list[Episode]:
    player = services.Player(user, "")
    toy, _ = services.start_or_resume(
        player, services.StartRequest("toy", "corridor", nickname=PAYLOADS["nickname"]), "127.0.0.1"
    )
    play_step(toy, 0, "wait", PAYLOADS["input"])
    text, _ = services.start_or_resume(
        player, services.StartRequest("textworld", "coin_collector", nickname=PAYLOADS["nickname"]), "127.0.0.1"
    )
    play_step(text, 0, PAYLOADS["command"], PAYLOADS["command"])
    return [toy, text]


def pages(episode_ids: list[int], user: User) -> list[str]:
    urls = {concrete(route, pk) for route in routes() for pk in episode_ids}
    urls |= {f"/admin/games/episode/{pk}/change/" for pk in episode_ids}
    urls |= {"/admin/auth/user/", f"/admin/auth/user/{user.pk}/change/", "/admin/games/episode/"}
    urls |= {"/admin/play/playrecord/", "/accounts/profile/"}
    return sorted(urls)


def test_it_renders_hostile_text_inert_on_every_page(toy_game: str) -> None:
    user = User.objects.create_user(PAYLOADS["username"], password="pw-hostile-123")
    episodes = hostile_episodes(user)
    admin = User.objects.create_superuser("root", password="pw-root-123")
    shown_escaped = 0
    for viewer in (user, admin):
        client = Client()
        client.force_login(viewer)
        for url in pages([e.pk for e in episodes], user):
            if url.endswith("/logout/") or url.startswith("/static/"):
                continue
            response = client.get(url)
            assert response.status_code < 500, url
            raw = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
            body = raw.decode("utf-8", "replace")
            if "html" not in response.get("Content-Type", ""):
                assert not response.get("Content-Type", "").startswith("text/html"), url
                continue
            for marker in RAW_MARKERS:
                assert marker not in body, (viewer.username, url, marker)
            shown_escaped += sum(
                token in body
                for token in ("&lt;script&gt;alert(", "&lt;img src=x onerror", "&lt;svg onload", "\\u003Cscript\\u003E")
            )
    # Not vacuous: the payloads did reach pages, escaped.
    print(f"\nescaped payloads shown: {shown_escaped}")
    assert shown_escaped >= 4
