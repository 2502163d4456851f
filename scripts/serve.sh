#!/usr/bin/env bash
# Serve the portal under gunicorn (WSGI: uploads stream to disk, see README) with a Celery worker and
# its beat scheduler beside it. Ctrl-C stops both.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PORT=${PORT:-8000}

"$BIN/celery" -A config worker --beat --queues default,analysis --concurrency 2 --loglevel INFO \
  --schedule var/celerybeat-schedule &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM

echo "Portal: http://127.0.0.1:$PORT/  (Ctrl-C stops the web server and the worker)"
"$BIN/gunicorn" config.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --timeout 300 --access-logfile - --log-level info
