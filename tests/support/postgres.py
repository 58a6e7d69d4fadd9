"""This test run's PostgreSQL database, as other processes (a server, a Celery
worker) reach it, and this process's connections to it after a fault."""

from __future__ import annotations

from django.db import connection, connections


def url_of_the_test_database() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def drop_dead_connections() -> None:
    """This process's connections died with the old server, and its connection
    pool may be waiting out the backoff of a reconnect it tried while the
    server was down (psycopg_pool doubles the wait each time): start afresh."""
    connections.close_all()
    for each in connections.all():
        if each.vendor == "postgresql":
            each.close_pool()  # type: ignore[attr-defined]  # PostgreSQL's wrapper only
