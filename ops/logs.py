"""Structured logs: a filter stamping request and episode ids on every record,
a JSON formatter (one object per line), and the middleware that sets the ids."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from ops import context, metrics

# Attributes every LogRecord has; anything else was passed in ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``episode_id`` (possibly '') to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = context.request_id.get()
        if not getattr(record, "episode_id", ""):
            record.episode_id = context.episode_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class RequestIdMiddleware(MiddlewareMixin):
    """Sets the request id (X-Request-ID, or a new one) and the episode id from
    the path for a request; echoes X-Request-ID back."""

    def process_request(self, request: HttpRequest) -> None:
        rid = context.new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = rid  # type: ignore[attr-defined]
        # Not reset in process_response: Django logs the outcome (e.g. "Service
        # Unavailable") after the middleware ran, and those lines need the ids too.
        # Each request sets both afresh, so nothing leaks into the next one's lines.
        context.request_id.set(rid)
        context.episode_id.set(context.episode_from_path(request.path))

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        metrics.http_requests.inc()
        if response.status_code >= 500:
            metrics.http_errors.inc()
        rid = getattr(request, "request_id", "")
        if rid:
            response["X-Request-ID"] = rid
        return response
