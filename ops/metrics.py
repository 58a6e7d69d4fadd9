"""The process's metrics, on prometheus_client.

Counters and gauges live in the memory of one process (a web server or a
worker). Celery workers serve no HTTP, so counters marked *shared* (model
calls and their errors, player steps) are also added up across processes: with
REDIS_URL set, each process flushes its increments to one Redis hash every
few seconds (a background thread; at most FLUSH_SECONDS of counts are lost if
a process dies), and /metrics renders the totals as ``balrog_cluster_*``.
/metrics also adds database-backed gauges (episodes running) at scrape time
(``scrape_text``). prometheus_client's metrics are thread-safe: websocket step
threads and Celery worker threads increment them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

SHARED_KEY = "balrog:metrics:cluster"
FLUSH_SECONDS = 5.0
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_PLAIN_0_0_4  # the format generate_latest writes

# One sample per counter, as the metrics read before prometheus_client: no *_created series.
prometheus_client.disable_created_metrics()

REGISTRY = CollectorRegistry()


class SharedCounter:
    """A counter of this process that is also summed across processes in
    Redis (see the module doc)."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self._counter = Counter(name, help_text, registry=REGISTRY)

    def inc(self, amount: float = 1.0) -> None:
        self._counter.inc(amount)  # refuses a negative amount
        _SHARED.add(self.name, amount)


def counter(name: str, help_text: str) -> Counter:
    return Counter(name, help_text, registry=REGISTRY)


def gauge(name: str, help_text: str) -> Gauge:
    return Gauge(name, help_text, registry=REGISTRY)


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

    url = settings.PROFILE.redis_url
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


_SHARED = SharedCounts()


def flush_shared() -> None:
    _SHARED.flush()


def value(name: str) -> float:
    """The current value of one of this process's series (tests, benchmarks)."""
    return REGISTRY.get_sample_value(name) or 0.0


class _ScrapeCollector(Collector):
    """Numbers read at scrape time: the cluster's shared totals and gauges
    every process sees alike (the database's)."""

    def __init__(self, totals: Mapping[str, float], gauges: Mapping[str, tuple[str, float]]) -> None:
        self.totals = totals
        self.gauges = gauges

    def collect(self) -> Iterable[Metric]:
        for name in sorted(self.totals):
            cluster = name.replace("balrog_", "balrog_cluster_", 1)
            help_text = f"{name} summed over every process (web and workers)."
            yield CounterMetricFamily(cluster.removesuffix("_total"), help_text, value=self.totals[name])
        for name, (help_text, number) in sorted(self.gauges.items()):
            yield GaugeMetricFamily(name, help_text, value=number)


def scrape_text(gauges: Mapping[str, tuple[str, float]], totals: Callable[[], Mapping[str, float]]) -> bytes:
    """The exposition of /metrics: this process's metrics, the ``gauges``
    (name -> (help, value)), and the cluster totals where Redis answers."""
    flush_shared()  # this process's own recent increments count too
    try:
        shared = totals()
    except Exception as exc:  # Redis down: the per-process numbers are still worth serving
        logger.warning("metrics: cluster totals unavailable: %s", exc)
        shared = {}
    extra = CollectorRegistry()
    extra.register(_ScrapeCollector(shared, gauges))
    return generate_latest(REGISTRY) + generate_latest(extra)


# The counters the service exposes; names follow Prometheus conventions.
ws_sessions = gauge("balrog_ws_sessions", "Open episode websockets in this process.")
ws_connections = counter("balrog_ws_connections_total", "Episode websockets accepted by this process.")
ws_messages = counter("balrog_ws_messages_total", "Websocket messages received.")
ws_rejected = counter(
    "balrog_ws_rejected_total", "Websocket connections closed for size, rate or queue limits (codes 1008/1009)."
)
play_steps = SharedCounter("balrog_play_steps_total", "Player steps applied over websockets (acks, not duplicates).")
play_errors = counter("balrog_play_errors_total", "Error messages sent to websocket clients.")
model_calls = SharedCounter("balrog_model_calls_total", "Model endpoint calls made by this process.")
model_errors = SharedCounter("balrog_model_call_errors_total", "Model endpoint calls that failed.")
http_requests = counter("balrog_http_requests_total", "HTTP requests served.")
http_errors = counter("balrog_http_server_errors_total", "HTTP responses with a 5xx status.")
database_refusals = counter(
    "balrog_database_refusals_total",
    "Requests and websocket messages refused at once while PostgreSQL was unreachable (ops.outage).",
)
database_retries = counter(
    "balrog_database_retries_total",
    "Calls retried once on a fresh connection after theirs died under them (ops.outage).",
)
