"""The site's 500 handler: a database outage is a 503 that says so.

When PostgreSQL is down or the process's connection pool cannot lend a
connection in DATABASE_POOL_TIMEOUT, every view fails with an
``OperationalError`` (Django wraps psycopg's and psycopg_pool's). Django's
own handler answers a bare "Server Error (500)": the browser cannot tell a
bug from an outage, and a client has no hint to retry. This handler answers
503 with ``Retry-After``, as a page for browsers and as JSON for everything
else (the pages' fetch calls, the API); any other error stays a 500. An
outage also trips ops.outage's breaker: until a probe connects again,
DatabaseBreakerMiddleware answers the same 503 at once, not after the pool's
timeout.

Django calls the handler inside its ``except`` block, so the exception being
handled is ``sys.exc_info()``. The pages it renders are standalone: the site's
base template reads the session and user, which need the database that is down.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.loader import render_to_string

from ops.outage import BREAKER

RETRY_AFTER_SECONDS = 10
UNAVAILABLE = {
    "error": "the database is unavailable for the moment; try again in a few seconds",
    "code": "unavailable",
}
FAILED = {"error": "the server failed to answer this request", "code": "server_error"}


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: 503 with Retry-After for a database outage, 500 otherwise."""
    # An outage trips the breaker: the next requests are refused at once instead of waiting for the pool.
    if BREAKER.trip_on(sys.exc_info()[1]):
        return unavailable_response(request)
    if _wants_html(request):
        return HttpResponse(render_to_string("500.html"), status=500)
    return JsonResponse(FAILED, status=500)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 of a database outage: a self-refreshing page or JSON, with Retry-After."""
    response: HttpResponse
    if _wants_html(request):
        response = HttpResponse(render_to_string("503.html"), status=503)
    else:
        response = JsonResponse(UNAVAILABLE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseBreakerMiddleware:
    """Early in the chain, before the session middleware reaches for the
    database: while ops.outage's breaker holds the database for down, answer
    the outage's 503 at once. Never refused: /healthz (the process lives),
    /readyz (it probes the server itself, with a short timeout) and static files."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not _needs_no_database(request.path) and BREAKER.refuses():
            return unavailable_response(request)
        return self.get_response(request)


def _needs_no_database(path: str) -> bool:
    return path in ("/healthz", "/readyz") or path.startswith(settings.STATIC_URL)


def _wants_html(request: HttpRequest) -> bool:
    # Browsers navigating ask for text/html; fetch() and API clients send */* or JSON.
    return "text/html" in request.headers.get("Accept", "")
