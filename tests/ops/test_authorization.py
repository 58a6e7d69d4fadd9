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

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from annotations.models import Assignment, Queue, QueueItem
from balrogweb.asgi import application
from balrogweb.routing import websocket_urlpatterns
from games.models import Episode
from games.services import do_apply_action, do_start_episode
from tests.support.personas import Persona
from tests.support.websocket import HOST, ORIGIN

PERSONAS = ("anonymous", "player", "other", "annotator", "other_annotator", "reviewer", "manager", "admin")
LEVELS: dict[str, set[str]] = {
    "public": set(PERSONAS),
    "login": set(PERSONAS) - {"anonymous"},
    "superuser": {"admin"},  # /metrics without a token: superusers only
    # agents.manage_evaluationrun: not in the annotators' or reviewers' groups.
    "runs": {"manager", "admin"},
    "publish": {"admin"},  # agents.publish_evaluationrun
    "annotation": {"annotator", "other_annotator", "reviewer", "admin"},  # annotations.access.has_access
    "reviewer": {"reviewer", "admin"},
    # The annotator's own assignment: another annotator, the reviewer and even a superuser get 404.
    "own_assignment": {"annotator"},
}
# Every named route and its level. A route missing here fails the test.
ACCESS: dict[str, str] = {
    "healthz": "public",
    "readyz": "public",
    "metrics": "superuser",
    "login": "public",
    "logout": "public",
    "agents:index": "public",
    "agents:new_run": "runs",
    "agents:run": "public",
    "agents:run_progress": "public",
    "agents:cancel": "runs",
    "agents:resume": "runs",
    "agents:publish": "publish",
    "agents:episode": "public",
    "agents:turns": "public",
    "agents:prompt": "public",
    "agents:prompt_json": "public",
    "annotations:home": "annotation",
    "annotations:queue_new": "reviewer",
    "annotations:queue": "reviewer",
    "annotations:queue_assign": "reviewer",
    "annotations:agreement": "reviewer",
    "annotations:disagreements": "reviewer",
    "annotations:console": "own_assignment",
    "annotations:assignment_steps": "own_assignment",
    "annotations:assignment_save": "own_assignment",
    "annotations:assignment_submit": "own_assignment",
    "annotations:assignment_reopen": "reviewer",
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
# Which object fills a parameterized route's parameters (see World.params). A route with
# parameters missing here fails the test: its object-level check would go unexercised.
OBJECT_OF: dict[str, str] = {
    **dict.fromkeys(["agents:run", "agents:run_progress", "agents:cancel", "agents:resume", "agents:publish"], "run"),
    **dict.fromkeys(["agents:episode", "agents:turns", "agents:prompt", "agents:prompt_json"], "model_episode"),
    **dict.fromkeys(
        ["annotations:queue", "annotations:queue_assign", "annotations:agreement", "annotations:disagreements"], "queue"
    ),
    **dict.fromkeys(
        [
            "annotations:console",
            "annotations:assignment_steps",
            "annotations:assignment_save",
            "annotations:assignment_submit",
            "annotations:assignment_reopen",
        ],
        "assignment",
    ),
    **dict.fromkeys(["annotations:review", "annotations:review_steps", "annotations:review_save"], "model_episode"),
    **dict.fromkeys(["leaderboard:entry", "leaderboard:submission"], "entry"),
    "leaderboard:compare": "model_episode",
    "play:new": "env",
    **dict.fromkeys(["play:episode", "play:abandon", "play:replay", "play:frames"], "play_episode"),
}
DENIED = {302, 401, 403, 404, 405}
REFUSED = {401, 403, 404}


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # with <converter:param> placeholders

    @property
    def params(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.template)


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


@dataclass
class World:
    """The objects the URLs point at, each owned by its persona."""

    users: dict[str, User | None]
    play_episode: Episode  # the player's
    model_episode: Episode  # of the run, ended, in the queue
    run: EvaluationRun  # created by the admin
    queue: Queue  # built by the reviewer
    assignment: Assignment  # the annotator's
    entry: str  # a leaderboard entry key ("-" when the board has none)
    env: str = "babyai"  # play:new knows the real games only
    extra_episodes: list[Episode] = field(default_factory=list)  # more to show (the XSS test's)

    def params(self, route: Route) -> dict[str, str]:
        kind = OBJECT_OF[route.name]
        if kind in ("env", "entry"):
            return dict.fromkeys(route.params, getattr(self, kind))
        return dict.fromkeys(route.params, str(getattr(self, kind).pk))


def concrete(route: Route, world: World) -> str:
    values = world.params(route) if route.params else {}
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda match: values[match.group(1)], route.template)


def make_personas() -> dict[str, User | None]:
    def staff_with(name: str, app: str, codename: str) -> User:
        user = User.objects.create_user(name, password=f"pw-{name}-123", is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app))
        return user

    return {
        "anonymous": None,
        "player": User.objects.get(username="pat"),
        "other": User.objects.get(username="olga"),
        "annotator": staff_with("annie", "annotations", "annotate"),
        "other_annotator": staff_with("otto", "annotations", "annotate"),
        "reviewer": staff_with("rev", "annotations", "review"),
        "manager": staff_with("manny", "agents", "manage_evaluationrun"),
        "admin": User.objects.create_superuser("root", password="pw-root-123"),
    }


def make_world(pat: Persona) -> World:
    users = make_personas()
    play_episode = pat.start("toy", "corridor")
    model_episode = do_start_episode(env="toy", task="corridor", seed=3, player_kind="model", agent="dev-random")
    # Walks to the exit: a finished episode, which resuming the run leaves in place.
    index = 0
    while not do_apply_action(model_episode.pk, index=index, action="right", raw_input="ACTION: right").done:
        index += 1
    model_episode.refresh_from_db()
    endpoint = ModelEndpoint.objects.create(
        name="dev-authz", provider="dev", base_url="http://127.0.0.1:9/v1", model_id="random"
    )
    run = EvaluationRun.objects.create(
        endpoint=endpoint,
        model_name=endpoint.name,
        agent={"strategy": "naive"},
        envs=["toy"],
        created_by=users["admin"],
    )
    RunEpisode.objects.create(run=run, env="toy", task="corridor", index=0, seed=3, episode=model_episode)
    queue = Queue.objects.create(name="authz", overlap=1, created_by=users["reviewer"])
    item = QueueItem.objects.create(queue=queue, episode=model_episode, position=0)
    annotator = users["annotator"]
    assert annotator is not None
    assignment = Assignment.objects.create(item=item, annotator=annotator)
    return World(users, play_episode, model_episode, run, queue, assignment, _an_entry_key())


def _an_entry_key() -> str:
    from leaderboard import services

    entries = getattr(services.board(), "entries", [])
    return entries[0].key if entries else "-"


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


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
