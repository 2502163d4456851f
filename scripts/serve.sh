#!/usr/bin/env bash
# Serve the portal under gunicorn (WSGI: uploads stream to disk, see README) with a Celery worker and
# its beat scheduler beside it, and the mail listener (inbound/, 127.0.0.1:$INBOUND_SMTP_PORT).
# Ctrl-C stops all three.
set -euo pipefail
BIN=${BIN:-.venv/bin}
PORT=${PORT:-8000}
INBOUND_SMTP_PORT=${INBOUND_SMTP_PORT:-8025}
export INBOUND_SMTP_PORT

"$BIN/celery" -A config worker --beat --queues default,analysis --concurrency 2 --loglevel INFO \
  --schedule var/celerybeat-schedule &
worker=$!
"$BIN/python" manage.py inbound_smtp --host 127.0.0.1 --port "$INBOUND_SMTP_PORT" &
listener=$!

stop_all() {
  kill -TERM "$listener" 2>/dev/null || true
  kill -TERM "$worker" 2>/dev/null || true
  for _ in $(seq 20); do
    if ! kill -0 "$worker" 2>/dev/null && ! kill -0 "$listener" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  # billiard's pool can hang in its exit handler; late acknowledgement means an unfinished job is
  # delivered again at the next start, so a hard stop loses nothing (and the listener answers 250 only
  # once a message is stored).
  echo "the worker or the listener did not stop within 10 s: stopping them hard"
  pkill -KILL -P "$worker" 2>/dev/null || true
  kill -KILL "$worker" "$listener" 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

echo "Portal: http://127.0.0.1:$PORT/  mail: smtp://127.0.0.1:$INBOUND_SMTP_PORT  (Ctrl-C stops all three)"
"$BIN/gunicorn" config.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 --threads 4 \
  --timeout 300 --access-logfile - --log-level info
