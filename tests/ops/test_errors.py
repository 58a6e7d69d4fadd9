"""The 500 handler: a database outage is a 503 with Retry-After, as a page or
as JSON; any other failure stays a 500 that shows no stack trace."""

from __future__ import annotations

from typing import Any
from unittest import mock

import psycopg
import pytest
from django.db import OperationalError
from django.test import Client

from ops.errors import RETRY_AFTER_SECONDS
from tests.support.pages import HTML

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("breaker")]  # never the process's own breaker


def get_home_failing_with(exc: Exception, accept: str) -> Any:  # the test client's response
    with mock.patch("games.catalogue.all_games", side_effect=exc):
        return Client(raise_request_exception=False).get("/", HTTP_ACCEPT=accept)


def test_it_shows_a_503_page_that_retries_when_the_database_is_down() -> None:
    response = get_home_failing_with(OperationalError("connection failed: Connection refused"), HTML)
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    body = response.content.decode()
    assert "Back in a moment" in body and 'http-equiv="refresh"' in body
    assert "Traceback" not in body and "Connection refused" not in body


def test_it_answers_json_to_a_script_when_the_pool_has_no_connection() -> None:
    # psycopg_pool's PoolTimeout is a psycopg OperationalError (Django wraps it when it can).
    response = get_home_failing_with(psycopg.OperationalError("couldn't get a connection after 10.00 sec"), "*/*")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["code"] == "unavailable"


def test_it_keeps_a_bug_a_500_without_a_stack_trace() -> None:
    response = get_home_failing_with(RuntimeError("a bug"), HTML)
    assert response.status_code == 500
    assert not response.has_header("Retry-After")
    body = response.content.decode()
    assert "Something went wrong" in body and "a bug" not in body


def test_it_answers_a_bug_to_a_script_as_json() -> None:
    response = get_home_failing_with(RuntimeError("a bug"), "application/json")
    assert (response.status_code, response.json()["code"]) == (500, "server_error")
