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
    # Websocket limits are enforced twice: daphne refuses oversized frames and
    # messages before Python parses them; ops.websocket applies the app's limits.
    exec daphne --bind 0.0.0.0 --port 8000 --proxy-headers \
      --websocket_timeout "${DAPHNE_WEBSOCKET_TIMEOUT:-86400}" \
      --websocket_connect_timeout 10 \
      --websocket-max-message-size "${BALROG_WS_MAX_MESSAGE_BYTES:-16384}" \
      --websocket-max-frame-size "${BALROG_WS_MAX_MESSAGE_BYTES:-16384}" \
      --ping-interval 20 --ping-timeout 30 \
      --http-timeout 120 --application-close-timeout 10 \
      "$@" balrogweb.asgi:application ;;
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
