"""Fail fast while PostgreSQL is unreachable.

During an outage every request that needs a connection waits for the pool
(DATABASE_POOL_TIMEOUT, 10 s by default) before ops.errors answers its 503:
a page hangs for ten seconds to say "try again later", and a burst of such
requests ties up a thread each. The breaker remembers the outage instead.

- ``trip_on(exc)``: a request, websocket handshake or websocket message
  failed; an outage (``is_database_outage``) trips the breaker
  (ops.errors.server_error, ops.websocket and the play consumer call it).
- ``refuses()``: while tripped, the next caller probes the server with a
  connection of its own and a short timeout (``probe_postgresql``), at most
  one probe every PROBE_INTERVAL_S across the process; every other caller
  meanwhile is refused at once. A probe that connects closes the breaker.

A pool that is only exhausted (the server is up, every connection busy)
trips it too: the next caller's probe connects and closes it again, so a
busy pool costs one probe, not a second of refusals.

PostgreSQL only: on the embedded default (SQLite) an OperationalError is a
locked file, not an unreachable server, and ``trip()`` does nothing.

``retry_on_lost_connection(func)`` is the other half: a connection that died
under a call (the server terminated it; the server itself is up) costs one
retry on a fresh connection, not an error. The caller must be idempotent (a
step is: its episode+index key is unique).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import psycopg
from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection
from psycopg_pool import PoolTimeout

from balrogweb.profile import is_postgresql
from ops import metrics

logger = logging.getLogger(__name__)

PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 2  # libpq's connect_timeout: whole seconds, at least 2 is honoured
RECONNECT_WAIT_S = 1.0


def is_database_outage(exc: BaseException | None) -> bool:
    """The database cannot be reached (down, restarting, pool exhausted), not a bug in a query."""
    return isinstance(exc, OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError)


def is_lost_connection(exc: BaseException | None) -> bool:
    """A connection broke under a query, on PostgreSQL: worth one retry on
    another connection. Not a pool timeout (another wait would only double it)."""
    if not is_postgresql(connection) or not is_database_outage(exc):
        return False
    return not any(isinstance(link, PoolTimeout) for link in _chain(exc))


def _chain(exc: BaseException | None) -> list[BaseException]:
    links: list[BaseException] = []
    while exc is not None and len(links) < 8:
        links.append(exc)
        exc = exc.__cause__ or exc.__context__
    return links


P = ParamSpec("P")
R = TypeVar("R")


class _Losses(threading.local):
    seen = 0  # the process's loss count when this thread last dropped its connection


_losses = _Losses()
_lost_count = 0  # connections found dead in this process (a plain int: the GIL orders its updates)


def retry_on_lost_connection(func: Callable[P, R]) -> Callable[P, R]:
    """Call ``func`` (blocking, idempotent) once more on a fresh connection
    when its connection died under it; one warning line, no traceback.

    Connections die together (a server restart, every backend terminated): once
    one thread has found its connection dead, every other thread wrapped here
    drops the one it keeps before its next call and borrows a checked one, so
    each loss costs one retry in the process, not one per thread (a failed
    step costs a replay of its game)."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        if _losses.seen != _lost_count:
            _losses.seen = _lost_count
            _drop_connection()
        elif _server_hung_up():
            _note_loss()
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not is_lost_connection(exc) or connection.in_atomic_block:
                raise
            logger.warning("database connection lost (%s); retrying once on a fresh one", _first_line(exc))
            metrics.database_retries.inc()
            _note_loss()
            return func(*args, **kwargs)

    return call


def _note_loss() -> None:
    """This thread's connection is dead: drop it, tell the other threads, and
    have the pool test its idle connections now. (Left to the check on lending,
    a borrower that met a dead one waited about a second for the replacement,
    per dead connection: psycopg_pool 3.3, measured in the fault test.)"""
    global _lost_count
    _lost_count += 1
    _losses.seen = _lost_count
    _drop_connection()
    pool = getattr(connection, "pool", None)
    if pool is not None:
        try:
            pool.check()
        except Exception as exc:  # the server may be down after all: borrowers will find out
            logger.debug("pool check after a lost connection: %s", exc)


def reconnecting(func: Callable[[], R], say: Callable[[str], None], give_up_after_s: float = 120.0) -> R:
    """``func()`` through a database outage, for long-running commands: while
    the connection is lost or the server unreachable, drop this thread's
    connection and try again every RECONNECT_WAIT_S (for up to
    ``give_up_after_s``, then the error is raised), saying so in one line.
    ``func`` must be safe to call again (a read, or an idempotent write)."""
    started = time.monotonic()
    said = False
    while True:
        try:
            return func()
        except Exception as exc:
            if not is_database_outage(exc) or connection.in_atomic_block:
                raise
            if time.monotonic() - started > give_up_after_s:
                raise
            if not said:
                say(f"database connection lost ({_first_line(exc)}); reconnecting and carrying on")
                said = True
            _drop_connection()
            time.sleep(RECONNECT_WAIT_S)


def _server_hung_up() -> bool:
    """This thread's idle connection has something to read: a server that
    terminates a backend (pg_terminate_backend, a shutdown) says so before it
    closes the socket, and an idle connection of this app is sent nothing else
    (it never LISTENs). A zero-timeout poll, about a microsecond: found here,
    the dead connection costs a fresh one instead of a failed step (whose game
    would then be rebuilt by replay)."""
    raw = connection.connection
    if raw is None or not is_postgresql(connection) or connection.in_atomic_block:
        return False
    try:
        readable, _, _ = select.select([raw.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):  # closed already
        return True
    return bool(readable)


def _drop_connection() -> None:
    """Give the broken connection back: the pool discards it, and the retry
    borrows a checked one."""
    try:
        connection.close()
    except Exception as exc:  # closing a dead connection may itself fail; it is gone either way
        logger.debug("closing a lost connection: %s", exc)
        connection.connection = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def probe_postgresql(timeout_s: int = PROBE_TIMEOUT_S) -> None:
    """``SELECT 1`` on a connection of its own, not one from the pool: a pool
    asked while the server is down waits DATABASE_POOL_TIMEOUT before failing,
    and a busy pool says nothing about the server. Raises when it cannot."""
    params = {**connection.get_connection_params(), "connect_timeout": timeout_s}
    params.pop("cursor_factory", None)
    with psycopg.connect(**params) as probe, probe.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 did not return 1")


def _server_answers() -> bool:
    try:
        probe_postgresql()
    except Exception as exc:  # any failure to connect means: still down
        logger.debug("database probe failed: %s", exc)
        return False
    return True


class DatabaseBreaker:
    def __init__(
        self,
        probe: Callable[[], bool] = _server_answers,
        interval_s: float = PROBE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        applies: Callable[[], bool] = lambda: is_postgresql(connection),
    ) -> None:
        self._probe = probe
        self._applies = applies
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()  # guards the two fields below; never held during a probe
        self._tripped = False
        self._next_probe_at = 0.0

    @property
    def tripped(self) -> bool:
        """A cheap look, for callers on an event loop: ``refuses()`` may probe (blocking I/O)."""
        return self._tripped

    def trip_on(self, exc: BaseException | None) -> bool:
        """Trips on a database outage; whether ``exc`` was one."""
        if not is_database_outage(exc):
            return False
        self.trip()
        return True

    def trip(self) -> None:
        if not self._applies():
            return
        with self._lock:
            if not self._tripped:
                logger.warning("database unreachable: refusing requests at once until a probe connects")
            self._tripped = True
            self._next_probe_at = self._clock()  # the next caller probes: a busy pool is not an outage

    def refuses(self) -> bool:
        """Whether to refuse this request now. Blocking: it may run the probe."""
        with self._lock:
            if not self._tripped:
                return False
            now = self._clock()
            if now < self._next_probe_at:
                metrics.database_refusals.inc()
                return True
            self._next_probe_at = now + self._interval_s  # this caller probes; the others are refused meanwhile
        if self._probe():
            self.reset()
            return False
        metrics.database_refusals.inc()
        return True

    async def refuses_async(self) -> bool:
        """``refuses()`` for callers on an event loop: the flag is read on the
        loop, and only while it is set does the check (which may probe,
        blocking I/O) go to a thread."""
        return self._tripped and await sync_to_async(self.refuses, thread_sensitive=False)()

    def reset(self) -> None:
        with self._lock:
            if self._tripped:
                logger.warning("database reachable again")
            self._tripped = False


BREAKER = DatabaseBreaker()
