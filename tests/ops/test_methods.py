"""Methods: read-only views answer HEAD like GET (health checks, link checkers), and a
wrong method on a JSON endpoint is a JSON 405 with Allow, never the CSRF page."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.support.authz import client_for, concrete, make_world, routes
from tests.support.personas import Persona

JSON_GET = ("/api/leaderboard", "/api/leaderboard/openapi.json")


@pytest.mark.django_db
def test_it_answers_head_on_the_health_check(client: Client) -> None:
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code in {200, 503}


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_answers_a_wrong_method_on_the_json_api_with_405_and_allow(method: str) -> None:
    client = Client(enforce_csrf_checks=True)  # as a script would meet it: no token
    for url in JSON_GET:
        response = getattr(client, method)(url)
        assert response.status_code == 405, url
        assert response["Allow"] == "GET, HEAD"
        assert json.loads(response.content)["allowed"] == ["GET", "HEAD"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_keeps_csrf_on_json_posts_and_405s_other_methods(toy_game: str, pat: Persona, olga: Persona) -> None:
    world = make_world(pat)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.assignment.annotator)
    url = f"/annotations/assignments/{world.assignment.pk}/save/"
    put = client.put(url, data="{}", content_type="application/json")
    assert (put.status_code, put["Allow"]) == (405, "POST")
    assert client.post(url, data="{}", content_type="application/json").status_code == 403  # no CSRF token
    steps = client.delete(f"/annotations/assignments/{world.assignment.pk}/steps.json")
    assert (steps.status_code, steps["Allow"]) == (405, "GET, HEAD")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_answers_head_wherever_get_is_served(
    toy_game: str, pat: Persona, olga: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)
    world = make_world(pat)
    failures = []
    for persona in ("anonymous", "admin"):
        client = client_for(world.users[persona])
        for route in routes():
            if route.name == "logout":
                continue
            url = concrete(route, world)
            got, head = client.get(url).status_code, client.head(url).status_code
            if got != 405 and head != got:
                failures.append(f"{persona} HEAD {url} ({route.name}): {head}, GET gave {got}")
    assert failures == []
