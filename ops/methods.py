"""HTTP methods of the JSON endpoints: a wrong one is a JSON 405 with ``Allow``.

Django's CSRF middleware runs before a view's own method check, so a PUT or DELETE
on a JSON endpoint used to get the 403 HTML CSRF page. ``json_methods`` takes the
endpoint out of the middleware's hands, answers any undeclared method with 405 and
``Allow`` first, and only then applies the CSRF check (``csrf_protect``) to the
declared unsafe methods: POST endpoints stay exactly as protected as before.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

V = TypeVar("V", bound=Callable[..., Any])
SAFE = ("GET", "HEAD")


def allowed_methods(*methods: str) -> list[str]:
    named = {method.upper() for method in methods}
    return sorted(named | ({"HEAD"} if "GET" in named else set()))


def method_not_allowed(allowed: list[str]) -> JsonResponse:
    response = JsonResponse({"error": "method not allowed", "allowed": allowed}, status=405)
    response["Allow"] = ", ".join(allowed)
    return response


def json_methods(*methods: str) -> Callable[[V], V]:
    """Allow ``methods`` (GET implies HEAD) on a JSON view, sync or async."""
    allowed = allowed_methods(*methods)
    unsafe = [method for method in allowed if method not in SAFE]

    def decorate(view: V) -> V:
        inner: Any = csrf_protect(view) if unsafe else view
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                if request.method not in allowed:
                    return method_not_allowed(allowed)
                return await inner(request, *args, **kwargs)

            return csrf_exempt(async_wrapped)  # type: ignore[return-value]

        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                return method_not_allowed(allowed)
            return inner(request, *args, **kwargs)

        return csrf_exempt(wrapped)  # type: ignore[return-value]

    return decorate
