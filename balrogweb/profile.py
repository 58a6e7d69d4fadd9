"""The deployment profile: which database, channel layer and task runner a
process uses, decided once from DATABASE_URL and REDIS_URL by settings.

- *embedded* (neither set): SQLite under var/, the in-memory channel layer
  (reaches this process only), Celery tasks run inside the caller.
- *PostgreSQL + Redis* (both set): a psycopg pool per process, channels-redis
  between processes, Celery workers fed through Redis.
- Either one alone is allowed (e.g. PostgreSQL without Redis for a single
  web process); each question below answers for its own half.

This module is the one place that answers "embedded or PostgreSQL + Redis?";
product code asks it the question it means and never tests a URL, a setting
or a class itself (tests/test_profile_rules.py holds that). Two kinds of question:

- About the configuration: ``settings.PROFILE`` (a ``DeploymentProfile``),
  e.g. ``settings.PROFILE.tasks_in_process`` (is there a broker with workers?).
  Settings derive the database, channel layer and Celery settings from it;
  a test that needs another profile sets it with tests/support/profile.py's
  ``use_profile``, which keeps the derived Celery settings in step.
- About an object in hand: ``is_postgresql(connection)`` (which SQL this
  connection speaks) and ``channels_in_process(layer)`` (whether this channel
  layer reaches other processes). These read the live object, not the profile:
  the answer must hold for the object the caller is about to use, and tests
  swap both at run time (a mocked vendor, ``override_settings(CHANNEL_LAYERS=...)``).
  On a process left as settings built it, they agree with the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeGuard

if TYPE_CHECKING:
    from channels.layers import InMemoryChannelLayer

IN_PROCESS_BROKER_URL = "memory://"


@dataclass(frozen=True)
class DeploymentProfile:
    database_url: str = ""
    redis_url: str = ""

    @property
    def name(self) -> str:
        if self.embedded:
            return "embedded"
        if self.database_url and self.redis_url:
            return "postgresql+redis"
        return "postgresql" if self.database_url else "sqlite+redis"

    @property
    def embedded(self) -> bool:
        """Nothing to install or start: SQLite, in-process channels and tasks."""
        return not self.database_url and not self.redis_url

    @property
    def sqlite(self) -> bool:
        """The database is the SQLite file under var/ (one writer at a time)."""
        return not self.database_url

    @property
    def shared_channels(self) -> bool:
        """Channel-layer messages reach every process (channels-redis)."""
        return bool(self.redis_url)

    @property
    def tasks_in_process(self) -> bool:
        """No broker: Celery tasks run inside the process that sends them
        (settings' CELERY_TASK_ALWAYS_EAGER), and model episodes go to the
        local runner instead of a queue."""
        return not self.redis_url

    @property
    def broker_url(self) -> str:
        """Celery's broker (settings' CELERY_BROKER_URL): Redis, or none to reach."""
        return IN_PROCESS_BROKER_URL if self.tasks_in_process else self.redis_url

    @property
    def multi_process(self) -> bool:
        """Several web processes may serve one site (they share database and channels)."""
        return bool(self.redis_url)


class _Connection(Protocol):
    @property
    def vendor(self) -> str: ...


def is_postgresql(connection: _Connection) -> bool:
    """This database connection is PostgreSQL's: it takes the one-statement
    step write and prepared statements, and its errors may mean an outage
    (on SQLite an OperationalError is a locked file). Asked of the connection,
    not the profile: DATABASE_URL may name a SQLite file too."""
    return connection.vendor == "postgresql"


def channels_in_process(layer: object) -> TypeGuard[InMemoryChannelLayer]:
    """This channel layer is the in-memory one: it reaches consumers of this
    process only, so viewers of other processes' episodes need the live feed
    (play.feed) and a send to a group with no member here can be skipped."""
    # Imported here, not at the top: settings import this module, and the
    # channel layer's module is no business of theirs.
    from channels.layers import InMemoryChannelLayer

    return isinstance(layer, InMemoryChannelLayer)
