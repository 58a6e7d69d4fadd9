#!/bin/sh
# Roles: web | worker | gpu-worker | migrate | <any command>.
# Each role reads its settings from the environment (docker/.env.example).
set -eu
cd /app

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  migrate)
    exec python manage.py migrate --noinput ;;
  web)
    # uvicorn with the project's limits (ops/management/commands/serve.py): the
    # websocket size limit is enforced before Python parses a frame, and again
    # by ops.websocket with the app's rate and queue limits.
    exec python manage.py serve --host 0.0.0.0 --port 8000 --proxy-headers \
      --workers "${WEB_CONCURRENCY:-2}" "$@" ;;
  worker)
    # CPU queue: scripted episodes, sweeps (prefork: game steps are CPU-bound).
    exec celery -A balrogweb worker -Q "${CELERY_DEFAULT_QUEUE:-cpu}" \
      --prefetch-multiplier 1 --concurrency "${CELERY_CONCURRENCY:-2}" "$@" ;;
  gpu-worker)
    # Model episodes: the threads pool, one thread per episode waiting on the
    # model (a GPU server or a hosted API), not on this CPU.
    exec celery -A balrogweb worker -Q "${BALROG_MODEL_QUEUES:-gpu,models}" --pool threads \
      --prefetch-multiplier 1 --concurrency "${CELERY_MODEL_CONCURRENCY:-200}" "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
