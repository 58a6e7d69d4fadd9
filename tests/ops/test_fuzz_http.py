"""Fuzzed query strings and form posts against every route (enumerated from
the resolver, its parameters real objects: see test_authorization.World),
as the player, the annotator who owns the assignment and a staff admin:
never a 5xx."""

from __future__ import annotations

import random

import pytest
from django.test import Client

from tests.support.authz import concrete, make_world, routes
from tests.support.personas import Persona

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NAMES = ["start", "count", "observation", "page", "q", "env", "task", "seed", "sort", "format", "nickname",
         "seed_from", "version", "n", "limit", "offset", "left", "right", "labels", "notes", "status",
         "csrfmiddlewaretoken", "endpoint", "episodes", "overlap", "action", "step", "id", "metric", "agent",
         "next"]  # fmt: skip
VALUES = ["", "0", "-1", "1e309", "NaN", "9" * 40, "true", "null", "[]", "{}", "x" * 5000, "\x00", "\u202e",
          "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "%00", "1.5", "💥", "toy", "corridor",
          "babyai", "BabyAI-MixedTrainLocal-v0/goto", "2147483648", " ", "\r\n"]  # fmt: skip
REQUESTS_PER_ROUTE = 24


def fuzzed_params(rng: random.Random) -> dict[str, str | list[str]]:
    params: dict[str, str | list[str]] = {}
    for name in rng.sample(NAMES, rng.randint(1, 6)):
        params[name] = [rng.choice(VALUES) for _ in range(2)] if rng.random() < 0.2 else rng.choice(VALUES)
    return params


def test_it_never_answers_fuzzed_parameters_with_a_server_error(toy_game: str, pat: Persona, olga: Persona) -> None:
    world = make_world(pat)
    rng = random.Random(8)
    failures: list[str] = []
    sent = 0
    for user in (world.users["player"], world.users["annotator"], world.users["admin"]):
        assert user is not None
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for route in routes():
            if route.name in ("logout", "static"):
                continue
            url = concrete(route, world)
            for _ in range(REQUESTS_PER_ROUTE):
                params = fuzzed_params(rng)
                response = client.get(url, params) if rng.random() < 0.5 else client.post(url, params)
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{user.username} {response.request['REQUEST_METHOD']} {url} {params!r}")
            # Bytes that are not UTF-8, as a hostile client sends them (the test client cannot encode them).
            for response in (
                client.get(url + "?start=%FF%FE&count=%C0%AF&q=%ED%BF%BF"),
                client.post(url, b"nickname=%FF%FE&env=%C0", content_type="application/x-www-form-urlencoded"),
                client.post(url, b"\xff\xfe{", content_type="application/json"),
            ):
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{user.username} {url} non-UTF-8 bytes")
    assert sent > 1000
    assert failures == [], failures[:10]
