"""Schemathesis against the leaderboard API's own OpenAPI document, every check
(``--checks all``): generated valid and invalid queries, wrong methods, the response
schemas, status codes, content types and the Allow header. Zero failures."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from tests.leaderboard.test_openapi import populate

load_all_checks()
ALL_CHECKS: list[Any] = list(CHECKS.get_all())  # functions and check classes: --checks all
schema = schemathesis.openapi.from_wsgi("/api/leaderboard/openapi.json", get_wsgi_application())


@pytest.fixture
def board(db: None) -> None:
    populate()  # models, humans and top players: every kind of entry in the answers


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.usefixtures("board")
def test_it_answers_by_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=ALL_CHECKS)
