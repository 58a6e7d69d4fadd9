"""The deployment profile settings build once from DATABASE_URL and REDIS_URL,
and the apps and middleware they list in one place."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from balrogweb.profile import DeploymentProfile

PG = "postgres://postgres@127.0.0.1:5432/x"
REDIS = "redis://127.0.0.1:6379/0"


def test_it_names_each_profile_and_answers_for_each_half() -> None:
    embedded, full = DeploymentProfile(), DeploymentProfile(PG, REDIS)
    assert (embedded.name, full.name) == ("embedded", "postgresql+redis")
    assert embedded.embedded and embedded.sqlite and embedded.tasks_in_process and not embedded.shared_channels
    assert not full.embedded and not full.sqlite and not full.tasks_in_process and full.multi_process
    database_only = DeploymentProfile(PG, "")
    assert database_only.name == "postgresql" and database_only.tasks_in_process and not database_only.sqlite


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
        "engine": "django.db.backends.postgresql",
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
