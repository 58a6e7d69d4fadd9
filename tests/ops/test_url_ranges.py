"""Out-of-range values everywhere: every URL pattern (the authorization matrix's walker,
so a new route is covered without anyone remembering to) with each path parameter, each
id-like query parameter and each posted field set to 2**63 and 2**70, by GET, HEAD and
POST, as an anonymous visitor and as a staff admin. Never a 5xx: an id the database
cannot hold is a 404 in a path and a 400 (or a form error) in a query or a body."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.support.authz import Route, client_for, make_world, routes
from tests.support.personas import Persona

HUGE = (2**63, 2**70)
# Query parameters and form fields the views read as numbers or ids (and a few enums).
QUERY = (
    "run", "queue", "since", "start", "count", "limit", "offset", "seed", "model_episode", "endpoint", "overlap",
    "index", "tab",
)  # fmt: skip


def out_of_range(route: Route, value: int) -> str:
    path = re.sub(r"<(?:\w+:)?(\w+)>", str(value), route.template)
    if route.name == "static":
        return path
    query = "&".join(f"{name}={value}" for name in QUERY)
    return f"{path}?{query}"


def check_huge(route: Route, persona: str, user: User | None, client: Client) -> list[str]:
    failures = []
    for value in HUGE:
        url = out_of_range(route, value)
        for method in ("get", "head", "post"):
            use = client_for(user) if route.name == "logout" else client
            kwargs = {"data": dict.fromkeys(QUERY, str(value))} if method == "post" else {}
            response = getattr(use, method)(url, **kwargs)
            if response.status_code >= 500:
                failures.append(f"{persona} {method.upper()} {url} ({route.name}): {response.status_code}")
    return failures


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # some views read in other threads (replay cursors)
def test_it_never_answers_500_to_out_of_range_values(
    toy_game: str, pat: Persona, olga: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)
    world = make_world(pat)  # real objects, so the pages have something to show around the bad ids
    failures: list[str] = []
    for persona in ("anonymous", "admin"):
        user = world.users[persona]
        client = client_for(user)
        for route in routes():
            failures += check_huge(route, persona, user, client)
    assert failures == []


@pytest.mark.django_db
def test_it_gives_404_for_path_ids_beyond_the_database(client: Client) -> None:
    for url in (
        f"/leaderboard/compare/{2**63}/1/",
        f"/agents/episodes/{2**63}/",
        f"/agents/episodes/{2**63}/turns.json",
        f"/episodes/{2**70}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/episodes/{2**63}/abandon/").status_code == 404
