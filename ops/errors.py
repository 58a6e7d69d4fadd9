"""The site's 500 handler: a database outage is a 503 that says so.

When PostgreSQL is down or the process's connection pool cannot lend a
connection in DATABASE_POOL_TIMEOUT, every view fails with an
``OperationalError`` (Django wraps psycopg's and psycopg_pool's). Django's
own handler answers a bare "Server Error (500)": the browser cannot tell a
bug from an outage, and a client has no hint to retry. This handler answers
503 with ``Retry-After``, as a page for browsers and as JSON for everything
else (the pages' fetch calls, the API); any other error stays a 500.

Django calls the handler inside its ``except`` block, so the exception being
handled is ``sys.exc_info()``. The pages it renders are standalone: the site's
base template reads the session and user, which need the database that is down.
"""

from __future__ import annotations

import sys

import psycopg
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

RETRY_AFTER_SECONDS = 10
UNAVAILABLE = {
    "error": "the database is unavailable for the moment; try again in a few seconds",
    "code": "unavailable",
}
FAILED = {"error": "the server failed to answer this request", "code": "server_error"}


def is_database_outage(exc: BaseException | None) -> bool:
    """The database cannot be reached (down, restarting, pool exhausted), not a bug in a query."""
    return isinstance(exc, OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: 503 with Retry-After for a database outage, 500 otherwise."""
    outage = is_database_outage(sys.exc_info()[1])
    status = 503 if outage else 500
    response: HttpResponse
    if _wants_html(request):
        response = HttpResponse(render_to_string("503.html" if outage else "500.html"), status=status)
    else:
        response = JsonResponse(UNAVAILABLE if outage else FAILED, status=status)
    if outage:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _wants_html(request: HttpRequest) -> bool:
    # Browsers navigating ask for text/html; fetch() and API clients send */* or JSON.
    return "text/html" in request.headers.get("Accept", "")
