"""One family of refusals, answered the same way by every edge.

A service raises a ``ServiceError`` (or a subclass) when it refuses what it
was asked: ``message`` is for the person, ``code`` for programs, and
``http_status`` is what a page or the API answers, and ``websocket_close``
the close code that follows the websocket ``error`` when the refusal ends the
connection (None: the connection stays open). Views and API endpoints map it
with ``refusal_response`` (JSON), consumers send ``code`` and ``message`` as a
websocket ``error`` and close with ``websocket_close`` where one is set;
Django's own ``PermissionDenied`` and ``Http404`` are answered alike, so an
endpoint catches ``REFUSALS`` once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse

# Application close codes (4000-4999), docs/websocket-protocol.md "Close codes".
WEBSOCKET_NOT_FOUND = 4404
WEBSOCKET_TOO_MANY = 4429


class ServiceError(Exception):
    code = "refused"
    http_status = 400
    websocket_close: int | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


REFUSALS = (ServiceError, PermissionDenied, Http404)


def refusal_body(exc: Exception) -> tuple[dict[str, str], int]:
    """The JSON body and HTTP status of a refusal (one of ``REFUSALS``)."""
    if isinstance(exc, ServiceError):
        return {"error": exc.message, "code": exc.code}, exc.http_status
    if isinstance(exc, PermissionDenied):
        return {"error": str(exc) or "forbidden", "code": "forbidden"}, 403
    return {"error": str(exc) or "not found", "code": "not_found"}, 404


def refusal_response(exc: Exception) -> JsonResponse:
    body, status = refusal_body(exc)
    return JsonResponse(body, status=status)


View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def login_then(check: Callable[[Any], None]) -> Callable[[View], View]:
    """The one "logged in + permission" decorator of pages: anonymous visitors
    go to the login page; a logged-in user ``check`` refuses gets 403
    (``check`` raises PermissionDenied or a ServiceError)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            check(request.user)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
