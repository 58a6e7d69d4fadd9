"""The deployment profile: which database, channel layer and task runner a
process uses, decided once from DATABASE_URL and REDIS_URL by settings.

- *embedded* (neither set): SQLite under var/, the in-memory channel layer
  (reaches this process only), Celery tasks run inside the caller.
- *PostgreSQL + Redis* (both set): a psycopg pool per process, channels-redis
  between processes, Celery workers fed through Redis.
- Either one alone is allowed (e.g. PostgreSQL without Redis for a single
  web process); each question below answers for its own half.

Code asks ``settings.PROFILE`` the question it means instead of testing a
URL. Two questions are about the running process rather than its
configuration and are asked there: the database connection's vendor
(``connection.vendor``) and the channel layer's class; see docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        """No broker: Celery tasks run inside the process that sends them."""
        return not self.redis_url

    @property
    def multi_process(self) -> bool:
        """Several web processes may serve one site (they share database and channels)."""
        return bool(self.redis_url)
