"""A world of hostile objects for the pages to show: XSS payloads in a
username, an episode nickname, a player's typed input, TextWorld's own text, a
model's raw output and the observation recorded for it, a run's and an
endpoint's names, a queue's name and annotation notes (tests/ops/test_xss.py
checks they are inert). And every page of the app filled with that world, for
the tests that load each one in a browser (accessibility, CSP)."""

from __future__ import annotations

import time

from django.contrib.auth.models import Permission, User

from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from annotations.models import Assignment, Queue, QueueItem, StepNote
from games.base import EndReason
from games.jsontypes import JSONObject
from games.models import Episode
from games.services import do_apply_action, do_end_episode, do_start_episode
from play import services
from play.protocol import Action
from tests.support.authz import World


def payload(name: str) -> str:
    """Each payload carries its own marker ``xss-<name>``, to tell which reached a page."""
    return {
        "username": "<img src=x onerror=alert('xss-username')>",
        "nickname": '"><script>alert("xss-nickname")</script>',
        "input": "<svg onload=alert('xss-input')>",
        "command": "take <script>alert('xss-command')</script>",
        "model": "I think <script>alert('xss-model')</script>\nACTION: <img src=x onerror=alert('xss-action')>",
        "observation": "You see <svg onload=alert('xss-observation')>",
        "run": "<script>alert('xss-run')</script>",
        "endpoint": "<svg onload=alert('xss-endpoint')>",
        "queue": "<img src=x onerror=alert('xss-queue')>",
        "note": "<script>alert('xss-note')</script>",
        "step-note": "<img src=x onerror=alert('xss-step-note')>",
    }[name]


def play_step(episode: Episode, seq: int, action: str, typed: str) -> None:
    message = Action(seq=seq, action=action, raw_input=typed, source="text")
    services.do_apply_player_action(
        episode.pk, message, with_observation=True, known_actions=(), received=time.perf_counter()
    )


def hostile_world() -> World:
    """The hostile player's games, a TextWorld model episode of a hostile run, its queue and notes."""
    player = User.objects.create_user(payload("username"), password="pw-hostile-123")
    annotator = User.objects.create_user("annie", password="pw-annie-123", is_staff=True)
    annotator.user_permissions.add(Permission.objects.get(codename="annotate", content_type__app_label="annotations"))
    reviewer = User.objects.create_user("rev", password="pw-rev-123", is_staff=True)
    reviewer.user_permissions.add(Permission.objects.get(codename="review", content_type__app_label="annotations"))
    root = User.objects.create_superuser("root", password="pw-root-123")
    as_player = services.Player(player, "")
    toy, _ = services.do_start_or_resume(
        as_player, services.StartRequest("toy", "corridor", nickname=payload("nickname")), "127.0.0.1"
    )
    play_step(toy, 0, "wait", payload("input"))
    text, _ = services.do_start_or_resume(
        as_player, services.StartRequest("textworld", "coin_collector", nickname=payload("nickname")), "127.0.0.1"
    )
    play_step(text, 0, payload("command"), payload("command"))
    model = do_start_episode(env="textworld", task="coin_collector", seed=11, player_kind="model", agent="dev-random")
    meta: JSONObject = {"model": {"obs": payload("observation"), "short": payload("observation"),
                                  "reasoning": payload("model"), "candidate": payload("command"),
                                  "in": 10, "out": 5}}  # fmt: skip
    do_apply_action(model.pk, index=0, action=payload("command"), raw_input=payload("model"), meta=meta)
    do_apply_action(model.pk, index=1, action="look", raw_input=payload("model"), meta=meta)
    do_end_episode(model.pk, reason=EndReason.ABANDONED, detail="test: stopped")
    model.refresh_from_db()
    endpoint = ModelEndpoint.objects.create(
        name=payload("endpoint"), provider="dev", base_url="http://127.0.0.1:9/v1", model_id=payload("endpoint")
    )
    run = EvaluationRun.objects.create(
        name=payload("run"), endpoint=endpoint, model_name=payload("endpoint"), agent={"strategy": "cot"},
        envs=["textworld"], created_by=root,
    )  # fmt: skip
    RunEpisode.objects.create(run=run, env="textworld", task="coin_collector", index=0, seed=11, episode=model)
    queue = Queue.objects.create(name=payload("queue"), description=payload("queue"), overlap=1, created_by=reviewer)
    item = QueueItem.objects.create(queue=queue, episode=model, position=0)
    assignment = Assignment.objects.create(item=item, annotator=annotator, note=payload("note"))
    StepNote.objects.create(assignment=assignment, index=0, text=payload("step-note"))
    users: dict[str, User | None] = {"player": player, "annotator": annotator, "reviewer": reviewer, "admin": root}
    return World(users, toy, model, run, queue, assignment, "-", extra_episodes=[text])


# Not pages: data, downloads, probes, the admin (Django's own), static files, logout (a POST).
NOT_PAGES = (".json", ".jsonl", ".csv", "/api/", "/admin/", "/static/", "healthz", "readyz", "metrics", "logout")

PAGES_DATA = """
import json
from games import registry
from agents.models import EvaluationRun
from tests.support.authz import ACCESS, concrete, routes
from tests.support.hostile import hostile_world
registry.GAMES["toy"] = registry.GameModules("tests.games", "toy.ToyAdapter", "toy.ToyAdapter")
world = hostile_world()
# Published: its entry and compare pages are on the board too.
EvaluationRun.objects.filter(pk=world.run.pk).update(status=EvaluationRun.Status.FINISHED, published=True)
world.play_episode = world.extra_episodes[0]  # TextWorld: the served app has no toy game
from leaderboard import services
world.entry = next((entry.key for entry in services.board().entries), "-")
for name in ("annotator", "reviewer", "admin"):
    world.users[name].set_password("pw-browser-123"); world.users[name].save()
pages = [(route.name, ACCESS[route.name], concrete(route, world)) for route in routes()]
print(json.dumps(pages))
"""


def who_sees(level: str) -> str:
    return {"own_assignment": "annie", "login": "root"}.get(level, "root")
