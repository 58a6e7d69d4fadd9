"""Django's PostgreSQL backend, with one change to its connection pool: a
connection found dead as it is lent has the pool test all its idle ones at once.

Connections die together (a server restart, every backend terminated by an
administrator or a failover). psycopg_pool checks a connection as it lends it
and, when the check fails, sleeps before taking the next one, backing off 1, 2,
4, 8 s: a borrower that met N dead idle connections one by one waited about
2^N - 1 s, so with 4 or more the pool's timeout (DATABASE_POOL_TIMEOUT, 10 s)
passed before a live connection came, and the request failed. Testing every
idle connection at the first dead one leaves the borrower one wait of about
a second (tests/ops/test_faults_database.py measures it).

Django builds the pool itself and passes it ``check=`` (when CONN_HEALTH_CHECKS
is on), so a check of our own cannot go through OPTIONS["pool"]; this backend
builds the same pool with this check instead. Selected by ENGINE
``ops.postgresql`` (balrogweb/settings.py); everything else is Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's own, which its type stubs leave out.
    _connection_pools: ClassVar[dict[str, ConnectionPool[Any]]]
    _configure_connection: Callable[[psycopg.Connection[Any]], None]

    @property
    def pool(self) -> ConnectionPool[Any] | None:
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not options or self.alias in self._connection_pools:
            return super().pool  # no pool, or the one already built
        if self.settings_dict.get("CONN_MAX_AGE", 0) != 0 or not self.settings_dict["CONN_HEALTH_CHECKS"]:
            return super().pool  # Django's own refusal, or a pool without checks: nothing to change
        pool: ConnectionPool[Any] = ConnectionPool(
            kwargs={**self.get_connection_params(), "autocommit": True},  # as Django: it sets autocommit later
            open=False,
            configure=self._configure_connection,
            check=_sweeping_check(self.alias),
            **({} if options is True else options),
        )
        # As Django: threads racing to build the pool keep the first one set.
        self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]


def _sweeping_check(alias: str) -> Callable[[psycopg.Connection[Any]], None]:
    def check(conn: psycopg.Connection[Any]) -> None:
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            # This borrower's connection is dead, so the others probably are:
            # test them now (the pool replaces each dead one) rather than lend
            # them one per backoff step.
            pool = DatabaseWrapper._connection_pools.get(alias)
            if pool is not None:
                pool.check()
            raise

    return check

