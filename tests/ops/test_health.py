"""/healthz, /readyz (and what it names when a dependency is down), /metrics
access, and structured logs with request and episode ids."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from ops import context, metrics, views
from ops.logs import ContextFilter, JsonFormatter
from tests.support.profile import use_profile

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_it_answers_healthz() -> None:
    response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


def test_it_is_ready_when_database_channel_layer_and_broker_answer() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["failed"] == []
    assert body["checks"] == {"database": "ok", "channel_layer": "ok", "broker": "ok"}


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [DEAD_REDIS]}}}
)
def test_it_names_the_channel_layer_when_redis_is_down() -> None:
    from channels.layers import channel_layers

    channel_layers.backends.clear()  # built again from the overridden settings
    try:
        response = Client().get("/readyz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["channel_layer"]
    assert body["checks"]["channel_layer"].startswith("failed: ")
    assert body["checks"]["database"] == "ok"


def test_it_names_the_broker_when_it_is_down(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    from balrogweb.celery import app

    monkeypatch.setattr(app.conf, "broker_url", DEAD_REDIS)
    use_profile(settings, redis_url=DEAD_REDIS)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


def test_it_names_the_database_when_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ConnectionError("connection refused")

    monkeypatch.setitem(views.CHECKS, "database", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == "failed: ConnectionError: connection refused"


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("ops-staff", password="pw-ops-staff-123", is_staff=True)


def test_it_hides_metrics_from_anonymous_and_ordinary_users() -> None:
    assert Client().get("/metrics").status_code == 404
    user = User.objects.create_user("ordinary", password="pw-ordinary-123")
    client = Client()
    client.force_login(user)
    assert client.get("/metrics").status_code == 404


def test_it_hides_metrics_from_staff_who_are_not_superusers(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    assert client.get("/metrics").status_code == 404


def test_it_shows_metrics_to_a_superuser() -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("ops-root", password="pw-ops-root-123"))
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    for name in (
        "balrog_ws_sessions",
        "balrog_play_steps_total",
        "balrog_model_calls_total",
        "balrog_episodes_running",
    ):
        assert f"\n# TYPE {name} " in "\n" + text
    assert "\nbalrog_episodes_running 0.0\n" in text


@override_settings(BALROG_METRICS_TOKEN="scrape-token-123")
def test_it_shows_metrics_to_a_scraper_with_the_token_only() -> None:
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").status_code == 200
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-12").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="scrape-token-123").status_code == 404


def test_it_counts_http_requests_and_renders_prometheus_text() -> None:
    before = metrics.value("balrog_http_requests_total")
    Client().get("/healthz")
    assert metrics.value("balrog_http_requests_total") == before + 1
    with pytest.raises(ValueError):
        metrics.http_requests.inc(-1)  # counters only go up
    gauges = {"balrog_example": ("An example.", 1.5)}
    families = {
        family.name: family
        for family in text_string_to_metric_families(metrics.scrape_text(gauges, lambda: {}).decode())
    }
    assert families["balrog_example"].type == "gauge" and families["balrog_example"].samples[0].value == 1.5
    requests = families["balrog_http_requests"]
    assert (requests.type, requests.samples[0].name) == ("counter", "balrog_http_requests_total")
    assert requests.samples[0].value == metrics.value("balrog_http_requests_total")


@pytest.fixture
def captured() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("ops.views")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_it_stamps_request_and_episode_ids_on_log_lines(
    captured: list[logging.LogRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise ConnectionError("down")

    monkeypatch.setitem(views.CHECKS, "database", broken)
    response = Client().get("/readyz", HTTP_X_REQUEST_ID="req-abc.123")
    assert response["X-Request-ID"] == "req-abc.123"
    warning = next(r for r in captured if r.levelno == logging.WARNING)
    line = json.loads(JsonFormatter().format(warning))
    assert line["request_id"] == "req-abc.123"
    assert line["level"] == "WARNING" and "database failed" in line["message"]


def test_it_replaces_an_unsafe_request_id_and_reads_episode_ids_from_paths() -> None:
    response = Client().get("/healthz", HTTP_X_REQUEST_ID='evil"\n{"level":"CRITICAL"}')
    assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"].isalnum()
    assert context.episode_from_path("/episodes/42/replay/") == "42"
    assert context.episode_from_path("/episodes/42/frames.json") == "42"
    assert context.episode_from_path("/ws/episodes/7/") == "7"
    assert context.episode_from_path("/agents/") == ""


def test_it_writes_one_json_object_per_line_with_extras_and_exceptions() -> None:
    token = context.episode_id.set("99")
    try:
        record = logging.LogRecord("balrog", logging.ERROR, __file__, 1, "step %s failed", (3,), None)
        ContextFilter().filter(record)
        record.worker = "w1"
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys

            record.exc_info = sys.exc_info()
        text = JsonFormatter().format(record)
    finally:
        context.episode_id.reset(token)
    assert "\n" not in text.split('"exc"')[0]
    line = json.loads(text)
    assert line["message"] == "step 3 failed" and line["episode_id"] == "99" and line["worker"] == "w1"
    assert "RuntimeError: boom" in line["exc"]


@pytest.mark.services
def test_it_reports_an_unreachable_postgresql_at_once_not_after_the_pools_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (DATABASE_URL)")
    monkeypatch.setitem(connection.settings_dict, "PORT", 1)  # nothing listens on port 1
    started = time.monotonic()
    with pytest.raises(Exception, match="port 1 failed"):
        views.check_database()
    assert time.monotonic() - started < views.CHECK_TIMEOUT_SECONDS + 1


def test_it_answers_within_its_deadline_naming_a_check_that_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    released = threading.Event()

    def hangs() -> None:  # a dependency that accepts the connection and never answers
        released.wait(30)

    monkeypatch.setitem(views.CHECKS, "broker", hangs)
    monkeypatch.setattr(views, "READY_DEADLINE_SECONDS", 0.5)
    started = time.monotonic()
    try:
        response = Client().get("/readyz")
    finally:
        released.set()
    assert time.monotonic() - started < 10  # the deadline, not the 30 s hang
    body = response.json()
    assert (response.status_code, body["failed"]) == (503, ["broker"])
    assert body["checks"]["broker"] == "failed: no answer within 0.5 s"
    assert body["checks"]["database"] == body["checks"]["channel_layer"] == "ok"


def test_it_runs_the_checks_side_by_side_not_one_after_another(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    together = threading.Barrier(len(views.CHECKS), timeout=2)  # breaks unless all checks run at once
    for name in views.CHECKS:
        monkeypatch.setitem(views.CHECKS, name, together.wait)
    response = Client().get("/readyz")
    assert response.status_code == 200, response.json()
