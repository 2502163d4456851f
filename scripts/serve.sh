#!/usr/bin/env bash
# Serve the portal under gunicorn (WSGI: uploads stream to disk, see README) with a Celery worker and
# its beat scheduler beside it. Ctrl-C stops both.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PORT=${PORT:-8000}

"$BIN/celery" -A config worker --beat --queues default,analysis --concurrency 2 --loglevel INFO \
  --schedule var/celerybeat-schedule &
worker=$!

stop_worker() {
  kill -TERM "$worker" 2>/dev/null || return 0
  for _ in $(seq 20); do
    kill -0 "$worker" 2>/dev/null || return 0
    sleep 0.5
  done
  # billiard's pool can hang in its exit handler; late acknowledgement means an unfinished job is
  # delivered again at the next start, so a hard stop loses nothing.
  echo "the worker did not stop within 10 s: stopping it hard"
  pkill -KILL -P "$worker" 2>/dev/null || true
  kill -KILL "$worker" 2>/dev/null || true
}
trap stop_worker EXIT
trap 'exit 130' INT TERM

echo "Portal: http://127.0.0.1:$PORT/  (Ctrl-C stops the web server and the worker)"
"$BIN/gunicorn" config.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --timeout 300 --access-logfile - --log-level info
