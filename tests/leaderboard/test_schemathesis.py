"""Schemathesis against the leaderboard API's own OpenAPI document, every check
(``--checks all``): generated valid and invalid queries, wrong methods, the response
schemas, status codes, content types and the Allow header. Zero failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from tests.support.leaderboard_data import populate

load_all_checks()
ALL_CHECKS: list[Any] = list(CHECKS.get_all())  # functions and check classes: --checks all
schema = schemathesis.openapi.from_wsgi("/api/leaderboard/openapi.json", get_wsgi_application())


@pytest.fixture
def board(db: None) -> Iterator[None]:
    populate()  # models, humans and top players: every kind of entry in the answers
    # Schemathesis calls the WSGI app itself, whose request signals would close the test's
    # connection mid-transaction (PostgreSQL); Django's test client disconnects them the same way.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.usefixtures("board")
def test_it_answers_by_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=ALL_CHECKS)
