"""A small in-process metrics registry, rendered in Prometheus text format.

Counters and gauges live in the memory of one process (a web server or a
worker). Celery workers serve no HTTP, so counters marked *shared* (model
calls and their errors, player steps) are also added up across processes: with
REDIS_URL set, each process flushes its increments to one Redis hash every
few seconds (a background thread; at most FLUSH_SECONDS of counts are lost if
a process dies), and /metrics renders the totals as ``balrog_cluster_*``.
/metrics also adds database-backed gauges (episodes running) at scrape time.
Thread-safe: websocket step threads and Celery worker threads increment them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

SHARED_KEY = "balrog:metrics:cluster"
FLUSH_SECONDS = 5.0

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class Metric:
    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        self.name = name
        self.help_text = help_text
        self._value = 0.0
        self._lock = threading.Lock()

    @property
    def value(self) -> float:
        return self._value

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value += amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help_text}"
        yield f"# TYPE {self.name} {self.kind}"
        yield f"{self.name} {_number(self._value)}"


class Counter(Metric):
    shared = False  # also summed across processes in Redis (see the module doc)

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        super().inc(amount)
        if self.shared:
            _SHARED.add(self.name, amount)


class Gauge(Metric):
    kind = "gauge"

    def dec(self, amount: float = 1.0) -> None:
        self.inc(-amount)

    def set(self, value: float) -> None:
        with self._lock:
            self._value = value


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


M = TypeVar("M", bound=Metric)


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help_text: str, *, shared: bool = False) -> Counter:
        counter = self._get(Counter, name, help_text)
        counter.shared = counter.shared or shared
        return counter

    def gauge(self, name: str, help_text: str) -> Gauge:
        return self._get(Gauge, name, help_text)

    def _get(self, kind: type[M], name: str, help_text: str) -> M:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = self._metrics[name] = kind(name, help_text)
            if not isinstance(metric, kind):
                raise TypeError(f"{name} is a {metric.kind}, not a {kind.kind}")
            return metric

    def render(self) -> str:
        with self._lock:
            metrics = sorted(self._metrics.values(), key=lambda m: m.name)
        return "\n".join(line for metric in metrics for line in metric.render()) + "\n"


class SharedCounts:
    """Increments of shared counters not yet added to the Redis hash."""

    def __init__(self) -> None:
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0

    def add(self, name: str, amount: float) -> None:
        with self._lock:
            self._pending[name] = self._pending.get(name, 0.0) + amount
            # A forked worker inherits the parent's thread object, not its thread.
            if self._flusher is None or self._flusher_pid != os.getpid():
                self._flusher_pid = os.getpid()
                self._flusher = threading.Thread(target=self._run, name="ops-metrics-flush", daemon=True)
                self._flusher.start()

    def _run(self) -> None:
        import time

        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Adds the pending increments to Redis (kept for the next try if it is down)."""
        client = _redis()
        if client is None:
            return
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            pipe = client.pipeline(transaction=False)
            for name, amount in pending.items():
                pipe.hincrbyfloat(SHARED_KEY, name, amount)
            pipe.execute()
        except Exception as exc:  # Redis down: keep the counts, try again next time
            logger.debug("metrics flush failed: %s", exc)
            with self._lock:
                for name, amount in pending.items():
                    self._pending[name] = self._pending.get(name, 0.0) + amount


_clients: dict[str, Any] = {}


def _redis() -> Any:
    from django.conf import settings

    url = str(getattr(settings, "REDIS_URL", "") or "")
    if not url:
        return None
    if url not in _clients:
        import redis

        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _clients[url]


def shared_totals() -> dict[str, float]:
    """name -> total across every process that flushed (empty without Redis)."""
    client = _redis()
    if client is None:
        return {}
    raw = client.hgetall(SHARED_KEY)
    return {key.decode(): float(value) for key, value in raw.items()}


def render_shared(totals: dict[str, float]) -> str:
    lines = []
    for name in sorted(totals):
        cluster = name.replace("balrog_", "balrog_cluster_", 1)
        lines += [
            f"# HELP {cluster} {name} summed over every process (web and workers).",
            f"# TYPE {cluster} counter",
            f"{cluster} {_number(totals[name])}",
        ]
    return "\n".join(lines) + "\n" if lines else ""


_SHARED = SharedCounts()
REGISTRY = Registry()


def flush_shared() -> None:
    _SHARED.flush()


# The counters the service exposes; names follow Prometheus conventions.
ws_sessions = REGISTRY.gauge("balrog_ws_sessions", "Open episode websockets in this process.")
ws_connections = REGISTRY.counter("balrog_ws_connections_total", "Episode websockets accepted by this process.")
ws_messages = REGISTRY.counter("balrog_ws_messages_total", "Websocket messages received.")
ws_rejected = REGISTRY.counter(
    "balrog_ws_rejected_total", "Websocket connections closed for size, rate or queue limits (codes 1008/1009)."
)
play_steps = REGISTRY.counter(
    "balrog_play_steps_total", "Player steps applied over websockets (acks, not duplicates).", shared=True
)
play_errors = REGISTRY.counter("balrog_play_errors_total", "Error messages sent to websocket clients.")
model_calls = REGISTRY.counter("balrog_model_calls_total", "Model endpoint calls made by this process.", shared=True)
model_errors = REGISTRY.counter("balrog_model_call_errors_total", "Model endpoint calls that failed.", shared=True)
http_requests = REGISTRY.counter("balrog_http_requests_total", "HTTP requests served.")
http_errors = REGISTRY.counter("balrog_http_server_errors_total", "HTTP responses with a 5xx status.")
database_refusals = REGISTRY.counter(
    "balrog_database_refusals_total",
    "Requests and websocket messages refused at once while PostgreSQL was unreachable (ops.outage).",
)
database_retries = REGISTRY.counter(
    "balrog_database_retries_total",
    "Calls retried once on a fresh connection after theirs died under them (ops.outage).",
)
