"""The authorization matrix's pieces, shared by the tests that visit every page:
eight personas (anonymous, player, other player, annotator, other annotator,
reviewer, run manager, staff admin), the level of every named route (a new
route fails tests/ops/test_authorization.py until it is classified there), the
routes enumerated from the resolver, and a world of real objects, each owned by
its persona, that fills their parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from annotations.models import Assignment, Queue, QueueItem
from games.models import Episode
from games.services import do_apply_action, do_start_episode
from tests.support.personas import Persona

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
