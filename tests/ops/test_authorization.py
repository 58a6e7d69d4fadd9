"""The authorization matrix: every URL pattern (enumerated from the resolver,
so a new route fails here until it is classified), the admin, and the
websocket routes, against eight personas: anonymous, player, other player,
annotator, other annotator, reviewer, run manager, staff admin.

Each URL parameter is a real object of the right kind owned by the right
persona (the player's episode, a model episode of an evaluation run created
by the admin, a queue built by the reviewer holding that episode, the
annotator's assignment in it), so object-level checks are exercised: the
other annotator, the reviewer and the admin are refused the annotator's
assignment, the other player cannot abandon the player's episode. Nobody
gets a 5xx; nobody below a route's level gets its content; everybody at or
above it does."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client

from agents.models import EvaluationRun
from annotations.models import Assignment
from balrogweb.asgi import application
from balrogweb.routing import websocket_urlpatterns
from games.models import Episode
from tests.support.authz import (
    ACCESS,
    LEVELS,
    OBJECT_OF,
    PERSONAS,
    Route,
    World,
    client_for,
    concrete,
    make_personas,
    make_world,
    routes,
)
from tests.support.personas import Persona
from tests.support.websocket import HOST, ORIGIN

DENIED = {302, 401, 403, 404, 405}
REFUSED = {401, 403, 404}

# Public routes whose object is not public here (no leaderboard entry, an unpublished run's episode),
# or not there (the toy model episode's steps were not a model's: no prompt to rebuild).
MAY_BE_MISSING = {
    "leaderboard:entry", "leaderboard:submission", "leaderboard:compare", "agents:prompt", "agents:prompt_json",
}  # fmt: skip


@pytest.mark.django_db
def test_it_classifies_every_route() -> None:
    found = list(routes())
    names = {route.name for route in found}
    assert sorted(names - set(ACCESS)) == [], "new routes: add them to ACCESS with their level"
    assert sorted(set(ACCESS) - names) == [], "routes gone: remove them from ACCESS"
    assert set(ACCESS.values()) <= set(LEVELS)
    with_params = {route.name for route in found if route.params}
    assert sorted(with_params - set(OBJECT_OF)) == [], "new routes with parameters: add them to OBJECT_OF"
    assert sorted(set(OBJECT_OF) - with_params) == []


def check_route(route: Route, persona: str, user: User | None, client: Client, world: World) -> list[str]:
    url = concrete(route, world)
    allowed = persona in LEVELS[ACCESS[route.name]]
    failures = []
    for method in ("get", "post"):
        # A throwaway client for logout, so the persona stays logged in for the rest.
        response = getattr(client_for(user) if route.name == "logout" else client, method)(url)
        status = response.status_code
        where = f"{persona} {method.upper()} {url} ({route.name})"
        if status >= 500:
            failures.append(f"{where}: {status}")
        elif not allowed and status not in DENIED:
            failures.append(f"{where}: {status}, expected a refusal")
        elif not allowed and status == 302 and "login" not in response["Location"]:
            failures.append(f"{where}: redirected to {response['Location']}")
        elif allowed and status in REFUSED and not (status == 404 and route.name in MAY_BE_MISSING):
            failures.append(f"{where}: {status}, refused an allowed persona")
        elif allowed and status == 302 and "/login/" in response["Location"] and route.name != "logout":
            failures.append(f"{where}: sent an allowed persona to log in")
    return failures


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # some views read in other threads (replay cursors, sweeps)
def test_it_enforces_each_routes_level_for_every_persona(
    toy_game: str, pat: Persona, olga: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)  # resume plays nothing
    world = make_world(pat)
    failures: list[str] = []
    for persona in PERSONAS:
        user = world.users[persona]
        client = client_for(user)
        for route in routes():
            failures += check_route(route, persona, user, client, world)
    assert failures == []
    # Everybody POSTed to its abandon URL; only the player's own request may end it, and the
    # player is second in line, so the anonymous visitor before must have left it running.
    world.play_episode.refresh_from_db()
    assert world.play_episode.status == Episode.Status.ABANDONED
    world.assignment.refresh_from_db()
    assert world.assignment.status != Assignment.Status.SUBMITTED  # an empty POST submits nothing


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_refuses_the_abandon_of_someone_elses_episode(toy_game: str, pat: Persona, olga: Persona) -> None:
    world = make_world(pat)
    for persona in PERSONAS:
        if persona == "player":
            continue
        client_for(world.users[persona]).post(f"/episodes/{world.play_episode.pk}/abandon/")
        world.play_episode.refresh_from_db()
        assert world.play_episode.status == Episode.Status.RUNNING, persona


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_refuses_cancelling_a_run_to_annotators_and_reviewers(toy_game: str, pat: Persona, olga: Persona) -> None:
    world = make_world(pat)
    for persona in ("annotator", "other_annotator", "reviewer", "player"):
        response = client_for(world.users[persona]).post(f"/agents/runs/{world.run.pk}/cancel/")
        assert response.status_code == 403, persona
        world.run.refresh_from_db()
        assert world.run.status == EvaluationRun.Status.RUNNING, persona
    client_for(world.users["manager"]).post(f"/agents/runs/{world.run.pk}/cancel/")
    world.run.refresh_from_db()
    assert world.run.status == EvaluationRun.Status.CANCELLED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_keeps_an_assignment_to_its_annotator(toy_game: str, pat: Persona, olga: Persona) -> None:
    world = make_world(pat)
    url = f"/annotations/assignments/{world.assignment.pk}/"
    assert client_for(world.users["annotator"]).get(url).status_code == 200
    for persona in ("other_annotator", "reviewer", "manager", "admin"):
        assert client_for(world.users[persona]).get(url).status_code in {403, 404}, persona
        saved = client_for(world.users[persona]).post(
            f"{url}save/", data='{"note": "not yours"}', content_type="application/json"
        )
        assert saved.status_code in {403, 404}, persona
    world.assignment.refresh_from_db()
    assert world.assignment.note == ""


@pytest.mark.slow
@pytest.mark.django_db
def test_it_lets_only_staff_with_model_permissions_into_the_admin(pat: Persona, olga: Persona) -> None:
    users = make_personas()
    pages = ["/admin/"] + [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/{suffix}"
        for model in admin.site._registry
        for suffix in ("", "add/")
    ]
    assert len(pages) > 10
    for persona, user in users.items():
        client = client_for(user)
        for page in pages:
            response = client.get(page)
            assert response.status_code < 500, (persona, page)
            if persona == "admin":
                # 403 only where a ModelAdmin disables adding (e.g. queues are built in the console).
                assert response.status_code == 200 or (page.endswith("add/") and response.status_code == 403), page
            elif user is None or not user.is_staff:
                assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (persona, page)
            elif page != "/admin/":
                # Staff without the model's permission: 403 (Django's admin), never the page.
                assert response.status_code in {403, 200}, (persona, page)
                if response.status_code == 200:
                    perms = {f"{m._meta.app_label}.view_{m._meta.model_name}" for m in admin.site._registry}
                    assert user.get_all_permissions() & perms, (persona, page)


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_gives_the_player_role_on_the_websocket_to_the_player_only(
    toy_game: str, pat: Persona, olga: Persona
) -> None:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    def session_for(user: User | None) -> str:
        store = SessionStore()
        if user is not None:
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        assert store.session_key is not None
        return store.session_key

    world = await database_sync_to_async(make_world)(pat)
    assert [str(p.pattern) for p in websocket_urlpatterns] == ["ws/episodes/<id:episode_id>/"]
    for persona in PERSONAS:
        key = await database_sync_to_async(session_for)(world.users[persona])
        # The player's running episode, and a model episode nobody plays from a browser.
        for episode, player in ((world.play_episode, "player"), (world.model_episode, None)):
            headers = [ORIGIN, HOST, (b"cookie", f"sessionid={key}".encode())]
            comm = WebsocketCommunicator(application, f"/ws/episodes/{episode.pk}/", headers=headers)
            connected, _ = await comm.connect()
            assert connected
            await comm.send_json_to({"type": "hello", "protocol": 1, "version": None})
            welcome = await comm.receive_json_from(timeout=20)
            await comm.receive_json_from(timeout=20)
            assert welcome["role"] == ("player" if persona == player else "viewer"), (persona, episode.pk)
            if persona != player:
                for message in ({"type": "action", "seq": 0, "action": "right"}, {"type": "abandon"}):
                    await comm.send_json_to(message)
                    assert (await comm.receive_json_from(timeout=20))["code"] in {"forbidden", "ended"}, persona
            await comm.disconnect()
    await database_sync_to_async(world.play_episode.refresh_from_db)()
    assert (world.play_episode.steps, world.play_episode.status) == (0, Episode.Status.RUNNING)
    steps = world.model_episode.steps
    await database_sync_to_async(world.model_episode.refresh_from_db)()
    assert world.model_episode.steps == steps
