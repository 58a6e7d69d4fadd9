"""The deployment profile settings build once from DATABASE_URL and REDIS_URL,
and the apps and middleware they list in one place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.db import connection

from balrogweb.profile import DeploymentProfile, channels_in_process, is_postgresql
from tests.support.profile import use_profile

PG = "postgres://postgres@127.0.0.1:5432/x"
REDIS = "redis://127.0.0.1:6379/0"


def test_it_names_each_profile_and_answers_for_each_half() -> None:
    embedded, full = DeploymentProfile(), DeploymentProfile(PG, REDIS)
    assert (embedded.name, full.name) == ("embedded", "postgresql+redis")
    assert embedded.embedded and embedded.sqlite and embedded.tasks_in_process and not embedded.shared_channels
    assert not full.embedded and not full.sqlite and not full.tasks_in_process and full.multi_process
    database_only = DeploymentProfile(PG, "")
    assert database_only.name == "postgresql" and database_only.tasks_in_process and not database_only.sqlite
    assert (embedded.broker_url, full.broker_url, database_only.broker_url) == ("memory://", REDIS, "memory://")


def test_it_asks_the_connection_and_the_layer_in_hand() -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    assert is_postgresql(connection) == (engine == "ops.postgresql")
    assert channels_in_process(InMemoryChannelLayer())
    assert not channels_in_process(RedisChannelLayer(hosts=[REDIS]))  # built without connecting
    assert not channels_in_process(None)


def test_it_moves_the_profile_and_celery_together_in_a_test(settings: Any) -> None:
    database_url = settings.PROFILE.database_url
    use_profile(settings, redis_url=REDIS)
    assert (settings.PROFILE.name, settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL) == (
        "postgresql+redis" if database_url else "sqlite+redis", False, REDIS)
    use_profile(settings, redis_url="")
    assert (settings.PROFILE.database_url, settings.PROFILE.redis_url) == (database_url, "")
    assert (settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL) == (True, "memory://")


def _settings_under(**env: str) -> dict[str, object]:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({'profile': settings.PROFILE.name, 'eager': settings.CELERY_TASK_ALWAYS_EAGER, "
        "'engine': settings.DATABASES['default']['ENGINE'], "
        "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], 'broker': settings.CELERY_BROKER_URL}))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    clean["DJANGO_SETTINGS_MODULE"] = "balrogweb.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, cwd=settings.BASE_DIR, capture_output=True, text=True,
        check=True, timeout=60,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_it_builds_the_settings_of_each_profile_from_it() -> None:
    assert _settings_under() == {
        "profile": "embedded",
        "eager": True,
        "engine": "django.db.backends.sqlite3",
        "layer": "channels.layers.InMemoryChannelLayer",
        "broker": "memory://",
    }
    assert _settings_under(DATABASE_URL=PG, REDIS_URL=REDIS) == {
        "profile": "postgresql+redis",
        "eager": False,
        "engine": "ops.postgresql",
        "layer": "channels_redis.core.RedisChannelLayer",
        "broker": REDIS,
    }


def test_it_lists_every_app_and_middleware_once_in_order() -> None:
    apps = settings.INSTALLED_APPS
    assert len(apps) == len(set(apps))
    assert apps[-8:] == ["channels", "games", "reference", "agents", "annotations", "play", "ops", "leaderboard"]
    middleware = settings.MIDDLEWARE
    assert middleware[:3] == [
        "ops.logs.RequestIdMiddleware",
        "ops.errors.DatabaseBreakerMiddleware",
        "django.middleware.security.SecurityMiddleware",
    ]
    csp = middleware.index("ops.security.ContentSecurityPolicyMiddleware")
    assert csp < middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
    if settings.BALROG_PLAY_SERVE_STATIC:
        assert middleware.index("servestatic.middleware.ServeStaticMiddleware") == 3
