"""ops.outage's breaker: once a database outage has been seen, requests and
websocket messages are refused at once (the outage's 503, or the error
'unavailable') until a probe connects, instead of each waiting for the pool."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connections
from django.test import Client

from ops.outage import DatabaseBreaker
from tests.support.outage import FakeDatabase
from tests.support.pages import HTML


def test_it_lets_everything_through_until_tripped(database: FakeDatabase) -> None:
    breaker = database.breaker()
    assert not breaker.refuses() and database.probes == []


def test_it_refuses_between_probes_and_closes_when_a_probe_connects(database: FakeDatabase) -> None:
    breaker = database.breaker()
    breaker.trip()
    assert breaker.refuses() and database.probes == [100.0]  # right after the trip: one probe, still down
    database.now += 0.5
    assert breaker.refuses() and database.probes == [100.0]  # within the interval: refused without a probe
    database.now += 0.6
    database.up = True
    assert not breaker.refuses() and database.probes == [100.0, 101.1]
    assert not breaker.tripped and not breaker.refuses() and len(database.probes) == 2


def test_it_costs_a_busy_pool_one_probe_not_a_second_of_refusals(database: FakeDatabase) -> None:
    database.up = True  # the pool timed out, but the server answers
    breaker = database.breaker()
    breaker.trip()
    assert not breaker.refuses() and database.probes == [100.0]


def test_it_never_trips_on_sqlite(database: FakeDatabase) -> None:
    breaker = DatabaseBreaker(probe=database.probe, clock=lambda: database.now)  # the real "PostgreSQL only" rule
    with mock.patch.object(connections["default"], "vendor", "sqlite"):
        breaker.trip()
    assert not breaker.tripped and not breaker.refuses()


@pytest.mark.django_db
def test_it_answers_503_at_once_once_a_request_has_met_the_outage(breaker: DatabaseBreaker) -> None:
    client = Client(raise_request_exception=False)
    with mock.patch("games.catalogue.all_games", side_effect=OperationalError("connection failed")):
        assert client.get("/", HTTP_ACCEPT=HTML).status_code == 503
    assert breaker.tripped
    # The database is not touched again: a query now would fail the test.
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=AssertionError("queried")):
        page = client.get("/leaderboard/", HTTP_ACCEPT=HTML)
        script = client.get("/leaderboard/", HTTP_ACCEPT="*/*")
    assert (page.status_code, page["Retry-After"]) == (503, "10") and b"Back in a moment" in page.content
    assert (script.status_code, script.json()["code"]) == (503, "unavailable")


@pytest.mark.django_db
def test_it_never_refuses_health_readiness_or_static_files(breaker: DatabaseBreaker, database: FakeDatabase) -> None:
    breaker.trip()
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/play/js/play.js").status_code == 200
    ready: Any = client.get("/readyz")
    assert "checks" in ready.json()  # its own report, whatever the real database says
    assert database.probes == []


@pytest.mark.django_db
def test_it_serves_again_once_the_probe_connects(breaker: DatabaseBreaker, database: FakeDatabase) -> None:
    breaker.trip()
    client = Client()
    assert client.get("/leaderboard/").status_code == 503
    database.now += 1.0
    database.up = True
    assert client.get("/leaderboard/").status_code == 200
