"""balrogweb settings: one module, driven by environment variables.

With no variables set, the *embedded default* runs: SQLite under var/, the
in-memory channel layer and Celery tasks run inside the web process, so a
laptop needs nothing else. Setting DATABASE_URL and REDIS_URL switches to
PostgreSQL, channels-redis and Celery workers on Redis. Every variable is
listed in the README.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any, cast

from balrogweb.env import (
    ConfigError,
    check_redis_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    parse_database_url,
)
from balrogweb.profile import DeploymentProfile

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BALROG_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("BALROG_PRODUCTION", False):
        raise ConfigError("DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set in production")
    # Embedded default: a key that is stable per checkout but never shipped.
    SECRET_KEY = "embedded-default-insecure-" + str(BASE_DIR)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

# Serve /static/ from the app (finders; works on a fresh clone without
# collectstatic). Turn off when a web server serves STATIC_ROOT.
BALROG_PLAY_SERVE_STATIC = env_bool("BALROG_PLAY_SERVE_STATIC", True)

# Every app and every middleware, in order, here and nowhere else.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "games",
    "reference",
    "agents",
    "annotations",
    "play",
    "ops",
    "leaderboard",
]

MIDDLEWARE = [
    # Request/episode ids first, so every later log line carries them.
    "ops.logs.RequestIdMiddleware",
    # Before the session middleware: while PostgreSQL is known to be down, refuse at once.
    "ops.errors.DatabaseBreakerMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # /static/ through ServeStatic (ops/static.py), before anything touches the session.
    *(["servestatic.middleware.ServeStaticMiddleware"] if BALROG_PLAY_SERVE_STATIC else []),
    # The CSP header (BALROG_CSP) on every response.
    "ops.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "balrogweb.urls"
ASGI_APPLICATION = "balrogweb.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Deployment profile: database, channel layer, tasks ------------------------
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
PROFILE = DeploymentProfile(database_url=DATABASE_URL, redis_url=REDIS_URL)  # balrogweb/profile.py

if not PROFILE.sqlite:
    DATABASES = {"default": parse_database_url("DATABASE_URL", DATABASE_URL)}
    # A bounded connection pool per process (psycopg_pool), not persistent
    # per-thread connections: under ASGI each request's sync code may run in a
    # thread of its own, and persistent connections left in those threads piled
    # up until PostgreSQL refused new clients (bench/load.py at 500 players:
    # 178 "too many clients" errors). Closing a connection returns it to the
    # pool; the pool checks a connection before lending it (health checks on),
    # and ops.postgresql, Django's backend but for that check, has the pool test
    # every idle connection once one is found dead (they die together; lent one
    # by one they cost the borrower 1 + 2 + 4 + ... s of backoff). A connection
    # a thread keeps between loans is not checked on loan:
    # ops.outage.retry_on_lost_connection covers that one.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "ops.postgresql"
        DATABASES["default"]["OPTIONS"] = {
            **cast(dict[str, object], DATABASES["default"]["OPTIONS"]),  # ?sslmode=... from the URL
            # Lets games.steplog's step write be a prepared statement (psycopg
            # ignores prepare=True while this is None, Django's default). Django's
            # own queries are unaffected: its client-side-binding cursors never prepare.
            "prepare_threshold": 5,
            "pool": {
                "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2, minimum=0),
                "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20, minimum=1),
                "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0, minimum=1.0),
                # While the server is down, the pool's reconnect attempts back off
                # 1, 2, 4, 8... s, for up to 5 minutes by default: after a long
                # outage the next attempt could come a minute after the server is
                # back. Giving up after 10 s keeps attempts at most ~4 s apart, and
                # the next request that needs a connection starts a fresh one.
                "reconnect_timeout": 10.0,
            }
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "balrogweb.sqlite3",
            "OPTIONS": {
                # WAL lets readers run beside the one writer; synchronous=NORMAL
                # keeps a commit off fsync (durable across process crashes,
                # which is what the embedded default promises).
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if PROFILE.shared_channels:
    check_redis_url("REDIS_URL", REDIS_URL)
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same as
            # the 5 s blocking read channels-redis waits on for a consumer's
            # messages: an idle consumer's read would time out, killing its
            # websocket after ~5 s. Reads must outlive that wait.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "capacity": 1000, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_BROKER_URL = PROFILE.broker_url
# Without a broker, tasks run inside the calling process. Code asks PROFILE.tasks_in_process;
# a test changes both through tests/support/profile.py's use_profile.
CELERY_TASK_ALWAYS_EAGER = PROFILE.tasks_in_process
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 6 * 3600, minimum=60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
# The visibility timeout must outlive the hard limit, or Redis hands a
# still-running task to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_DEFAULT_QUEUE", "cpu")
CELERY_RESULT_BACKEND = None

# --- Game core -------------------------------------------------------------
# Live games kept in memory per process; the rest rebuild by replay on demand.
BALROG_LIVE_GAMES_MAX = env_int("BALROG_LIVE_GAMES_MAX", 512, minimum=1)
BALROG_IDLE_TIMEOUT_SECONDS = env_float("BALROG_IDLE_TIMEOUT_SECONDS", 1800.0, minimum=1.0)
BALROG_TEXTWORLD_POOL_SIZE = env_int("BALROG_TEXTWORLD_POOL_SIZE", 10, minimum=1)
BALROG_GAME_DATA_DIR = Path(env_str("BALROG_GAME_DATA_DIR", str(VAR_DIR / "games")))
# numba (Crafter's world generation) caches compiled code; keep it out of site-packages
# so every process reuses it instead of compiling on its first reset.
os.environ.setdefault("NUMBA_CACHE_DIR", str(VAR_DIR / "numba-cache"))

# --- Auth, i18n, static -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"


def _crafter_assets() -> list[tuple[str, Path]]:
    """Crafter's own textures, served as static/crafter/<name>.png from the
    installed package (found without importing it)."""
    spec = find_spec("crafter")
    for root in (spec.submodule_search_locations or []) if spec else []:
        assets = Path(root) / "assets"
        if assets.is_dir():
            return [("crafter", assets)]
    return []


STATICFILES_DIRS: list[Any] = [BASE_DIR / "static", *_crafter_assets()]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "staticfiles")))

LOG_LEVEL = env_str("BALROG_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ConfigError(f"BALROG_LOG_LEVEL={LOG_LEVEL!r} is not a log level")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# --- Browser play -------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "play:home"
LOGOUT_REDIRECT_URL = "play:home"
# Env steps of websocket players run in this many threads (never on the event
# loop, never one shared thread); one episode's steps are serialized by its lock.
BALROG_PLAY_STEP_THREADS = env_int("BALROG_PLAY_STEP_THREADS", 8, minimum=1)
# Per episode: sustained actions per second and the burst allowed above it.
BALROG_PLAY_ACTIONS_PER_SECOND = env_float("BALROG_PLAY_ACTIONS_PER_SECOND", 20.0, minimum=0.1)
BALROG_PLAY_ACTION_BURST = env_int("BALROG_PLAY_ACTION_BURST", 40, minimum=1)
# Per client address, for connections that are not the episode's own player:
# viewer connections open at once, viewer connections opened per second (and
# the burst above it), syncs per second (and the burst). play/limits.py.
BALROG_PLAY_VIEWERS_PER_ADDRESS = env_int("BALROG_PLAY_VIEWERS_PER_ADDRESS", 20, minimum=1)
BALROG_PLAY_VIEWER_CONNECTS_PER_SECOND = env_float("BALROG_PLAY_VIEWER_CONNECTS_PER_SECOND", 1.0, minimum=0.01)
BALROG_PLAY_VIEWER_CONNECT_BURST = env_int("BALROG_PLAY_VIEWER_CONNECT_BURST", 20, minimum=1)
BALROG_PLAY_SYNCS_PER_SECOND = env_float("BALROG_PLAY_SYNCS_PER_SECOND", 2.0, minimum=0.01)
BALROG_PLAY_SYNC_BURST = env_int("BALROG_PLAY_SYNC_BURST", 10, minimum=1)
# Encoded viewer snapshots and steps kept per process (play/snapshots.py), in characters.
BALROG_PLAY_SNAPSHOT_CACHE_CHARS = env_int("BALROG_PLAY_SNAPSHOT_CACHE_CHARS", 32_000_000, minimum=0)
# Episodes a player (account or anonymous session) may start per hour, and per client IP.
BALROG_PLAY_EPISODES_PER_HOUR = env_int("BALROG_PLAY_EPISODES_PER_HOUR", 60, minimum=1)
BALROG_PLAY_EPISODES_PER_HOUR_PER_IP = env_int("BALROG_PLAY_EPISODES_PER_HOUR_PER_IP", 300, minimum=1)
# Replays: adapters kept positioned for frame windows (each holds one game).
BALROG_PLAY_REPLAY_CURSORS = env_int("BALROG_PLAY_REPLAY_CURSORS", 8, minimum=1)
# --- agents (models) ---
# Model episodes: the Celery queue endpoints default to, the threads that do
# their database and env work (bounded: a worker driving hundreds of episodes
# holds this many database connections, not hundreds), the episodes run at once
# in-process on the embedded default, and the lease that lets a sweep resume the
# episodes of a dead worker.
BALROG_AGENT_QUEUE = env_str("BALROG_AGENT_QUEUE", "models")
BALROG_AGENT_DB_THREADS = env_int("BALROG_AGENT_DB_THREADS", 4, minimum=1)
BALROG_AGENT_LOCAL_CONCURRENCY = env_int("BALROG_AGENT_LOCAL_CONCURRENCY", 32, minimum=1)
BALROG_AGENT_HEARTBEAT_SECONDS = env_float("BALROG_AGENT_HEARTBEAT_SECONDS", 10.0, minimum=0.1)
BALROG_AGENT_STALE_SECONDS = env_float("BALROG_AGENT_STALE_SECONDS", 60.0, minimum=0.5)
BALROG_AGENT_REQUEUE_SECONDS = env_float("BALROG_AGENT_REQUEUE_SECONDS", 1800.0, minimum=1.0)
BALROG_AGENT_PICKUP_SECONDS = env_float("BALROG_AGENT_PICKUP_SECONDS", 60.0, minimum=1.0)
BALROG_AGENT_SWEEP_SECONDS = env_float("BALROG_AGENT_SWEEP_SECONDS", 30.0, minimum=0.1)
BALROG_AGENT_MAX_CRASHES = env_int("BALROG_AGENT_MAX_CRASHES", 3, minimum=1)
if BALROG_AGENT_STALE_SECONDS <= 2 * BALROG_AGENT_HEARTBEAT_SECONDS:
    raise ConfigError("BALROG_AGENT_STALE_SECONDS must exceed twice BALROG_AGENT_HEARTBEAT_SECONDS")
# The openai client logs every HTTP request at INFO: hundreds per second on a busy worker.
LOGGING["loggers"] = {"httpx2": {"level": "WARNING"}, "httpx": {"level": "WARNING"}}

# --- production (ops) ---
# Everything here is owned by ops/ (docs: README "Deployment and scaling out").
# The embedded default (no variables) keeps plain HTTP on 127.0.0.1; with
# BALROG_PRODUCTION=1 the site is HTTPS-only behind a TLS-terminating proxy.
# /static/ (BALROG_PLAY_SERVE_STATIC) through ServeStatic (ops/static.py). After `collectstatic` with
# hashed names (the image; BALROG_STATIC_HASHED=1, the default once STATIC_ROOT holds a manifest),
# pages link content-hashed files, precompressed (gzip), cached for a year; without it (a
# fresh clone) the finders' files keep their names and a short cache.
BALROG_STATIC_HASHED = env_bool("BALROG_STATIC_HASHED", (STATIC_ROOT / "staticfiles.json").is_file())
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "ops.static.HashedStaticFilesStorage"
        if BALROG_STATIC_HASHED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
SERVESTATIC_USE_MANIFEST = BALROG_STATIC_HASHED
SERVESTATIC_USE_FINDERS = not BALROG_STATIC_HASHED
SERVESTATIC_AUTOREFRESH = False  # the files are listed once per process, not looked up per request

BALROG_PRODUCTION = env_bool("BALROG_PRODUCTION", False)
# Scripts and styles only from our origin (no inline script, style element or
# style attribute anywhere; json_script blocks are inert data; scripts set sizes
# through the CSSOM, which style-src does not govern).
# Off on the embedded default: the browser tests drive pages with Playwright's
# wait_for_function, which evaluates strings and so needs 'unsafe-eval'.
BALROG_CSP = env_str(
    "BALROG_CSP",
    (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    if BALROG_PRODUCTION
    else "",
)
# /metrics: a scraper sends "Authorization: Bearer <token>"; without a token only staff users may read it.
BALROG_METRICS_TOKEN = env_secret("BALROG_METRICS_TOKEN")
# Websocket guard (ops.websocket): per connection.
BALROG_WS_MAX_MESSAGE_BYTES = env_int("BALROG_WS_MAX_MESSAGE_BYTES", 16384, minimum=1024)
BALROG_WS_MESSAGES_PER_SECOND = env_float("BALROG_WS_MESSAGES_PER_SECOND", 60.0, minimum=1.0)
BALROG_WS_MESSAGE_BURST = env_int("BALROG_WS_MESSAGE_BURST", 120, minimum=1)
BALROG_WS_QUEUE_MAX = env_int("BALROG_WS_QUEUE_MAX", 64, minimum=1)
BALROG_WS_RECHECK_SECONDS = env_float("BALROG_WS_RECHECK_SECONDS", 30.0, minimum=0.0)
# Origins (scheme://host[:port]) websockets may come from besides the handshake's own Host, e.g. the
# public https origin when a proxy forwards neither X-Forwarded-Proto nor Host (ops.websocket.OriginCheck).
BALROG_WS_TRUSTED_ORIGINS = env_list("BALROG_WS_TRUSTED_ORIGINS", [])
# The ASGI server (manage.py serve): open connections past which it answers 503,
# and the proxies whose X-Forwarded-* headers it trusts (with --proxy-headers).
BALROG_SERVER_MAX_CONNECTIONS = env_int("BALROG_SERVER_MAX_CONNECTIONS", 4096, minimum=16)
BALROG_FORWARDED_ALLOW_IPS = env_str("BALROG_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Web processes: allocations between young garbage collections (ops.runtime; 0 keeps Python's 700).
BALROG_GC_THRESHOLD = env_int("BALROG_GC_THRESHOLD", 20000, minimum=0)
# JSON log lines (one object per line, with request_id and episode_id) instead of plain text.
BALROG_LOG_JSON = env_bool("BALROG_LOG_JSON", BALROG_PRODUCTION)
LOGGING["filters"] = {"context": {"()": "ops.logs.ContextFilter"}}
LOGGING["formatters"]["json"] = {"()": "ops.logs.JsonFormatter"}  # type: ignore[index]
LOGGING["handlers"]["console"]["filters"] = ["context"]  # type: ignore[index]
if BALROG_LOG_JSON:
    LOGGING["handlers"]["console"]["formatter"] = "json"  # type: ignore[index]

if PROFILE.shared_channels:
    # A Redis restart leaves every pooled connection dead; redis-py retries nothing by
    # default, so each process's first channel-layer call after it failed (a hello
    # answered with server_error). Retry connection errors with a short backoff,
    # which reconnects; an outage longer than ~1 s still fails (the websocket guard
    # then closes with 1012 and the browser reconnects).
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    for _host in CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]:  # type: ignore[index]
        _host["retry"] = Retry(ExponentialBackoff(cap=0.5, base=0.05), 4)

if BALROG_PRODUCTION:
    # TLS ends at the proxy, which must set X-Forwarded-Proto (and strip a client's own).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Probes talk plain HTTP to the container, not through the proxy.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # Preload only tells browsers the site consents to the preload list; it is not a submission.
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    # Forms posted from https://<host> must name the host (Django checks the Origin header).
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [f"https://{host}" for host in ALLOWED_HOSTS])
    if "*" in ALLOWED_HOSTS:
        raise ConfigError("DJANGO_ALLOWED_HOSTS must name the site's hosts in production, not '*'")

# --- leaderboard ---
# The public leaderboard (models and human baselines on BALROG's scale).
# Seconds the leaderboard trusts its data-version check before re-running it
# (the board lags new results by at most this long; 0: check every request).
BALROG_LEADERBOARD_VERSION_SECONDS = env_float("BALROG_LEADERBOARD_VERSION_SECONDS", 5.0, minimum=0.0)
# "Top players" rows: the best N logged-in players (0: none) with at least
# MIN counted baseline episodes, each a row labelled by username.
BALROG_LEADERBOARD_TOP_PLAYERS = env_int("BALROG_LEADERBOARD_TOP_PLAYERS", 3, minimum=0)
BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES = env_int("BALROG_LEADERBOARD_TOP_PLAYER_MIN_EPISODES", 5, minimum=1)
