"""/healthz (the process answers), /readyz (its dependencies answer), /metrics.

/readyz checks the database, the channel layer and the Celery broker side by
side, each in a thread of its own with a short timeout, and answers within
READY_DEADLINE_SECONDS whatever hangs (a check still running then counts as
failed): 503 naming the ones that failed, so a load balancer stops sending
traffic to a process that cannot serve it, and a compose health check (3 s)
never times out waiting for the answer.

/metrics is Prometheus text. It is protected: a request with
``Authorization: Bearer <BALROG_METRICS_TOKEN>`` (for the scraper), or a
logged-in superuser (for a person: staff accounts include annotators and
reviewers, who have no business reading the operations' numbers); anyone else
gets 404, so its existence is not advertised.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, connections
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from balrogweb.profile import is_postgresql
from ops import metrics
from ops.outage import probe_postgresql

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
READY_DEADLINE_SECONDS = 2.5  # the whole answer; under the 3 s a health check waits


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    checks = run_checks(CHECKS, READY_DEADLINE_SECONDS)
    for name, result in checks.items():
        if result != "ok":
            logger.warning("readyz: %s %s", name, result)
    failed = sorted(name for name, result in checks.items() if result != "ok")
    body = {"status": "ready" if not failed else "unavailable", "failed": failed, "checks": checks}
    return JsonResponse(body, status=200 if not failed else 503)


def run_checks(checks: dict[str, Callable[[], None]], deadline_s: float) -> dict[str, str]:
    """Every check at once, each in a daemon thread (a hung one is left behind,
    never waited for past the deadline): name -> "ok" or "failed: why"."""
    results: dict[str, str] = {}
    threads = {name: threading.Thread(target=_run_check, args=(name, check, results), daemon=True)
               for name, check in checks.items()}  # fmt: skip
    for thread in threads.values():
        thread.start()
    ends_at = time.monotonic() + deadline_s
    for thread in threads.values():
        thread.join(max(0.0, ends_at - time.monotonic()))
    late = f"failed: no answer within {deadline_s:g} s"
    return {name: late if thread.is_alive() else results[name] for name, thread in threads.items()}


def _run_check(name: str, check: Callable[[], None], results: dict[str, str]) -> None:
    started = time.perf_counter()
    try:
        check()
        results[name] = "ok"
    except Exception as exc:  # any failure means "not ready"; say which and why
        results[name] = f"failed: {type(exc).__name__}: {str(exc)[:200]}".rstrip(": ")
    finally:
        connections.close_all()  # this thread's own (SQLite's check), never reused
    logger.debug("readyz: %s took %.1f ms", name, (time.perf_counter() - started) * 1000)


def check_database() -> None:
    if is_postgresql(connection):
        probe_postgresql(max(1, int(CHECK_TIMEOUT_SECONDS)))
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 did not return 1")


def check_channel_layer() -> None:
    """Redis layers: every host answers PING. Other layers (in-memory): a message
    sent to a fresh channel comes back. A Redis layer's own receive is not used:
    it shares one receive buffer with the process's consumers."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    async_to_sync(_check_layer)(layer)


async def _check_layer(layer: Any) -> None:
    if hasattr(layer, "connection") and hasattr(layer, "ring_size"):
        for index in range(layer.ring_size):
            await asyncio.wait_for(layer.connection(index).ping(), CHECK_TIMEOUT_SECONDS)
        return
    channel = await layer.new_channel("ops-readyz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "ops.readyz", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), CHECK_TIMEOUT_SECONDS)
    if message.get("token") != token:
        raise RuntimeError("the channel layer returned another message")


def check_broker() -> None:
    """The Celery broker accepts a connection (the embedded default has none to check)."""
    if settings.PROFILE.tasks_in_process:
        return
    from balrogweb.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)  # type: ignore[arg-type]  # kombu takes float seconds; its stub says int


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
}


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _may_read_metrics(request):
        raise Http404
    body = metrics.scrape_text(_database_gauges(), metrics.shared_totals)
    return HttpResponse(body, content_type=metrics.CONTENT_TYPE)


def _may_read_metrics(request: HttpRequest) -> bool:
    token = str(getattr(settings, "BALROG_METRICS_TOKEN", ""))
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


def _database_gauges() -> dict[str, tuple[str, float]]:
    """Cluster-wide numbers read at scrape time (every process sees the same)."""
    from games.models import Episode

    running = Episode.objects.filter(status=Episode.Status.RUNNING).count()
    return {"balrog_episodes_running": ("Episodes with status running (all processes).", running)}
