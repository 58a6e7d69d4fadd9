"""Content-Security-Policy header (Django 5.2 has no built-in CSP).

The templates load scripts only from /static/ as ES modules; ``json_script``
blocks are ``type="application/json"`` data, which browsers never execute, so
``script-src 'self'`` allows them. No inline script or ``on*=`` handler exists
in templates/ or static/ (tests/ops/test_security.py keeps it that way).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds settings.BALROG_CSP to every response that has no CSP yet ('' = off).
    MiddlewareMixin makes it both sync- and async-capable (no thread hop under ASGI)."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        policy = str(getattr(settings, "BALROG_CSP", ""))
        if policy and HEADER not in response:
            response[HEADER] = policy
        return response
