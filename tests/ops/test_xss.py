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

from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client

from tests.support.authz import World, concrete, routes
from tests.support.browser import launch, log_in, playwright_sync_api
from tests.support.hostile import hostile_world
from tests.support.servers import server_with_data

pytestmark = [pytest.mark.slow]


NAMES = ("username", "nickname", "input", "command", "model", "observation", "run", "endpoint", "queue", "note",
         "step-note")  # fmt: skip
RAW_MARKERS = ("<script>alert(", "<img src=x onerror", "<svg onload")
# Rendered by the server into HTML (the rest reach the browser as JSON, see the browser test).
IN_HTML = {"username", "nickname", "run", "endpoint", "queue", "note", "step-note"}
IN_JSON = {"input", "command", "model", "observation"}  # replay frames, live turns, console steps


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
from tests.support.hostile import hostile_world
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
                log_in(page, server.base, "root" if who == "admin" else who, "pw-browser-123")
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
