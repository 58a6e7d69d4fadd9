"""The authorization matrix: every URL pattern (enumerated from the resolver,
so a new route fails here until it is classified), the admin, and the
websocket routes, against six personas: anonymous, player, other player,
annotator, reviewer, staff admin. Nobody gets a 5xx; nobody below a route's
level gets its content."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from balrogweb.asgi import application
from balrogweb.routing import websocket_urlpatterns
from games.models import Episode
from tests.play.conftest import ORIGIN, Persona

PERSONAS = ("anonymous", "player", "other", "annotator", "reviewer", "admin")
LEVELS: dict[str, set[str]] = {
    "public": set(PERSONAS),
    "login": {"player", "other", "annotator", "reviewer", "admin"},
    # agents' staff_required: annotators and reviewers are staff accounts too.
    "staff": {"annotator", "reviewer", "admin"},
    "annotation": {"annotator", "reviewer", "admin"},  # annotations.access.has_access
    "annotator": {"annotator", "admin"},
    "reviewer": {"reviewer", "admin"},
    "ops": {"admin"},  # /metrics without a token: staff users (annotators are staff: see the report)
}
# Every named route and its level. A route missing here fails the test.
ACCESS: dict[str, str] = {
    "healthz": "public",
    "readyz": "public",
    "metrics": "staff",
    "login": "public",
    "logout": "public",
    "agents:index": "public",
    "agents:new_run": "staff",
    "agents:run": "public",
    "agents:run_progress": "public",
    "agents:cancel": "staff",
    "agents:resume": "staff",
    "agents:episode": "public",
    "agents:turns": "public",
    "annotations:home": "annotation",
    "annotations:queue_new": "reviewer",
    "annotations:queue": "reviewer",
    "annotations:queue_assign": "reviewer",
    "annotations:agreement": "reviewer",
    "annotations:disagreements": "reviewer",
    "annotations:console": "annotator",
    "annotations:assignment_steps": "annotator",
    "annotations:assignment_save": "annotator",
    "annotations:assignment_submit": "annotator",
    "annotations:assignment_reopen": "annotator",
    "annotations:review": "reviewer",
    "annotations:review_steps": "reviewer",
    "annotations:review_save": "reviewer",
    "annotations:export": "reviewer",
    "annotations:export_jsonl": "reviewer",
    "annotations:export_csv": "reviewer",
    "annotations:api_episodes": "reviewer",
    "leaderboard:index": "public",
    "leaderboard:csv": "public",
    "leaderboard:entry": "public",
    "leaderboard:submission": "public",
    "leaderboard:compare": "public",
    "leaderboard:api": "public",
    "leaderboard:openapi": "public",
    "play:home": "public",
    "play:new": "public",
    "play:episode": "public",  # spectators may watch any episode
    "play:abandon": "public",  # POST by anyone; only the player's changes anything (asserted below)
    "play:replay": "public",
    "play:frames": "public",
    "play:profile": "login",
    "play:signup": "public",
    "static": "public",
}
DENIED = {302, 401, 403, 404, 405}


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # with {param} placeholders


def routes() -> Iterator[Route]:
    def walk(patterns: list[URLPattern | URLResolver], prefix: str, namespace: str) -> Iterator[Route]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern) == "admin/":
                    continue  # the admin's own matrix is below
                space = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), space)
            else:
                text = prefix + str(pattern.pattern)
                if text.startswith("^static/"):
                    yield Route("static", "/static/play/css/play.css")
                    continue
                yield Route(namespace + (pattern.name or text), "/" + text)

    yield from walk(get_resolver().url_patterns, "", "")


def concrete(route: Route, episode_id: int) -> str:
    """Parameters filled with a real episode id (ints) or plausible values."""
    import re

    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if converter == "int":
            return str(episode_id)
        return {"env": "toy", "key": "x"}.get(name, "x")

    return re.sub(r"<(?:(\w+):)?(\w+)>", fill, route.template)


def make_personas() -> dict[str, User | None]:
    annotator = User.objects.create_user("annie", password="pw-annie-123", is_staff=True)
    annotator.user_permissions.add(Permission.objects.get(codename="annotate", content_type__app_label="annotations"))
    reviewer = User.objects.create_user("rev", password="pw-rev-123", is_staff=True)
    reviewer.user_permissions.add(Permission.objects.get(codename="review", content_type__app_label="annotations"))
    return {
        "anonymous": None,
        "player": User.objects.get(username="pat"),
        "other": User.objects.get(username="olga"),
        "annotator": annotator,
        "reviewer": reviewer,
        "admin": User.objects.create_superuser("root", password="pw-root-123"),
    }


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.django_db
def test_it_classifies_every_route() -> None:
    names = {route.name for route in routes()}
    assert sorted(names - set(ACCESS)) == [], "new routes: add them to ACCESS with their level"
    assert sorted(set(ACCESS) - names) == [], "routes gone: remove them from ACCESS"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # some views read in other threads (replay cursors, sweeps)
def test_it_enforces_each_routes_level_for_every_persona(toy_game: str, pat: Persona, olga: Persona) -> None:
    episode = pat.start("toy", "corridor")
    users = make_personas()
    failures: list[str] = []
    for persona, user in users.items():
        client = client_for(user)
        for route in routes():
            url = concrete(route, episode.pk)
            allowed = persona in LEVELS[ACCESS[route.name]]
            for method in ("get", "post"):
                # A throwaway client for logout, so the persona stays logged in for the rest.
                response = getattr(client_for(user) if route.name == "logout" else client, method)(url)
                status = response.status_code
                if status >= 500:
                    failures.append(f"{persona} {method.upper()} {url}: {status}")
                elif not allowed and status not in DENIED:
                    failures.append(f"{persona} {method.upper()} {url}: {status}, expected a refusal")
                elif not allowed and status == 302 and "login" not in response["Location"]:
                    failures.append(f"{persona} {method.upper()} {url}: redirected to {response['Location']}")
    episode.refresh_from_db()
    # Everybody POSTed to its abandon URL; only the player's own request may end it, and the
    # player is third in line, so the two before must have left it running.
    assert failures == []
    assert episode.status == Episode.Status.ABANDONED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_refuses_the_abandon_of_someone_elses_episode(toy_game: str, pat: Persona, olga: Persona) -> None:
    episode = pat.start("toy", "corridor")
    users = make_personas()
    for persona in ("anonymous", "other", "annotator", "reviewer", "admin"):
        client_for(users[persona]).post(f"/episodes/{episode.pk}/abandon/")
        episode.refresh_from_db()
        assert episode.status == Episode.Status.RUNNING, persona


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

    episode = await database_sync_to_async(pat.start)("toy", "corridor")
    users = await database_sync_to_async(make_personas)()
    assert [str(p.pattern) for p in websocket_urlpatterns] == ["ws/episodes/<int:episode_id>/"]
    for persona, user in users.items():
        key = await database_sync_to_async(session_for)(user)
        comm = WebsocketCommunicator(
            application, f"/ws/episodes/{episode.pk}/", headers=[ORIGIN, (b"cookie", f"sessionid={key}".encode())]
        )
        connected, _ = await comm.connect()
        assert connected
        await comm.send_json_to({"type": "hello", "protocol": 1, "version": None})
        welcome = await comm.receive_json_from(timeout=20)
        await comm.receive_json_from(timeout=20)
        assert welcome["role"] == ("player" if persona == "player" else "viewer"), persona
        if persona != "player":
            for message in ({"type": "action", "seq": 0, "action": "right"}, {"type": "abandon"}):
                await comm.send_json_to(message)
                assert (await comm.receive_json_from(timeout=20))["code"] == "forbidden", persona
        await comm.disconnect()
    await database_sync_to_async(episode.refresh_from_db)()
    assert (episode.steps, episode.status) == (0, Episode.Status.RUNNING)
