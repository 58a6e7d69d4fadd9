"""XSS payloads in a username, an episode nickname, a player's typed input,
TextWorld's own text (which echoes the command), a model's raw output and
the observation recorded for it, an evaluation run's and endpoint's names,
a queue's name and annotation notes are inert on every page: every URL of
the authorization matrix filled with the hostile objects, for the hostile
player, the annotator, the reviewer and a staff admin, and the admin's
change list and change page of every registered model and object.

Inert: no payload's live markup appears in an HTML page, while the payload
itself does (escaped) on some page, so the check is not vacuous. JSON
responses (where the console and the live pages fetch model outputs and
notes) are application/json with nosniff; the browser test below loads the
pages that render them and listens for dialogs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client

from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from annotations.models import Assignment, Queue, QueueItem, StepNote
from games.base import EndReason
from games.jsontypes import JSONObject
from games.models import Episode
from games.services import do_apply_action, do_end_episode, do_start_episode
from play import services
from play.protocol import Action
from tests.ops.test_authorization import World, concrete, routes
from tests.support.browser import launch, playwright_sync_api

pytestmark = [pytest.mark.slow]


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


NAMES = ("username", "nickname", "input", "command", "model", "observation", "run", "endpoint", "queue", "note",
         "step-note")  # fmt: skip
RAW_MARKERS = ("<script>alert(", "<img src=x onerror", "<svg onload")
# Rendered by the server into HTML (the rest reach the browser as JSON, see the browser test).
IN_HTML = {"username", "nickname", "run", "endpoint", "queue", "note", "step-note"}
IN_JSON = {"input", "command", "model", "observation"}  # replay frames, live turns, console steps


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


def admin_pages() -> list[str]:
    """The change list and every object's change page of every model in the admin."""
    urls = ["/admin/"]
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls.append(base)
        urls += [f"{base}{pk}/change/" for pk in model._default_manager.values_list("pk", flat=True)]
    return urls


def pages(world: World) -> list[str]:
    urls = {concrete(route, world) for route in routes()}
    for episode in world.extra_episodes:
        urls |= {f"/episodes/{episode.pk}/", f"/episodes/{episode.pk}/replay/"}
    urls |= {f"/annotations/episodes/{world.model_episode.pk}/review/", "/accounts/profile/"}
    return sorted(url for url in urls | set(admin_pages()) if not url.endswith("/logout/"))


def body_of(response: Any) -> str:
    raw = b"".join(response) if response.streaming else response.content  # ServeStatic streams asynchronously
    return raw.decode("utf-8", "replace")


@pytest.mark.django_db(transaction=True)
def test_it_renders_hostile_text_inert_on_every_page(toy_game: str) -> None:
    world = hostile_world()
    seen_in_html: set[str] = set()
    seen_in_json: set[str] = set()
    checked = 0
    for persona, viewer in world.users.items():
        assert viewer is not None
        client = Client()
        client.force_login(viewer)
        for url in pages(world):
            response = client.get(url)
            assert response.status_code < 500, (persona, url)
            body = body_of(response)
            content_type = response.get("Content-Type", "")
            found = {name for name in NAMES if f"xss-{name}" in body}
            if "html" not in content_type:
                # Not rendered as a document: a browser must not sniff it into one.
                assert response.get("X-Content-Type-Options") == "nosniff", (persona, url)
                seen_in_json |= found
                continue
            checked += 1
            for marker in RAW_MARKERS:
                assert marker not in body, (persona, url, marker)
            seen_in_html |= found
    print(f"\nHTML pages checked: {checked}; escaped in HTML: {sorted(seen_in_html)}; in JSON: {sorted(seen_in_json)}")
    assert seen_in_html >= IN_HTML, sorted(IN_HTML - seen_in_html)
    assert seen_in_json >= IN_JSON, sorted(IN_JSON - seen_in_json)


# ----- in a browser: the pages that render model outputs and notes from JSON ---------------------------
HOSTILE_DATA = """
import json
from games import registry
from tests.ops.test_xss import hostile_world
registry.GAMES["toy"] = registry.GameModules("tests.games", "toy.ToyAdapter", "toy.ToyAdapter")  # never served
world = hostile_world()
for name in ("annotator", "reviewer", "admin"):
    user = world.users[name]
    user.set_password("pw-browser-123"); user.save()
print(json.dumps({"model": world.model_episode.pk, "run": world.run.pk, "assignment": world.assignment.pk,
                  "text": world.extra_episodes[0].pk}))
"""


@pytest.mark.browser
def test_it_opens_no_dialog_in_a_browser_on_the_key_pages(tmp_path: Path) -> None:
    sync_playwright = playwright_sync_api().sync_playwright

    from tests.ops.test_faults import server_with_data

    server, ids = server_with_data(tmp_path, HOSTILE_DATA)
    dialogs: list[str] = []
    shown: set[str] = set()

    def record_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    try:
        with sync_playwright() as p:
            browser = launch(p)
            for who, urls in (
                ("admin", [f"/agents/episodes/{ids['model']}/", f"/agents/runs/{ids['run']}/", "/agents/",
                           f"/episodes/{ids['text']}/replay/", f"/episodes/{ids['text']}/",
                           f"/admin/agents/evaluationrun/{ids['run']}/change/", "/admin/auth/user/"]),
                ("annie", [f"/annotations/assignments/{ids['assignment']}/"]),
                ("rev", [f"/annotations/episodes/{ids['model']}/review/", "/annotations/"]),
            ):  # fmt: skip
                context = browser.new_context()
                page = context.new_page()
                page.on("dialog", record_dialog)
                page.goto(f"{server.base}/accounts/login/")
                page.fill("input[name=username]", "root" if who == "admin" else who)
                page.fill("input[name=password]", "pw-browser-123")
                page.click("form button[type=submit]")
                page.wait_for_load_state("networkidle")
                for url in urls:
                    page.goto(f"{server.base}{url}")
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(500)  # the live pages fetch turns and steps after load
                    dom = page.content()  # after the scripts ran: text they inserted is serialized escaped
                    assert not any(marker in dom for marker in RAW_MARKERS), url
                    shown |= {name for name in NAMES if f"xss-{name}" in dom}
                context.close()
            browser.close()
    finally:
        server.stop()
    assert dialogs == []
    assert {"model", "run", "endpoint", "queue"} <= shown, sorted(shown)
