"""``/healthz``: 200 when the database and the Celery broker answer, 503 otherwise.

Anonymous callers (load balancers, uptime checks) read only ``{"status": "ok" | "degraded"}``: error
texts name hosts and ports, which is reconnaissance for anyone. Staff signed in, or a caller with
``Authorization: Bearer $HEALTH_TOKEN``, also read which part failed, the analysis workers' state
(heartbeat age, jobs waiting) and the outbox backlog; none of those change the status code: a load
balancer must not take the web tier out because the workers are down.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from accounts.capabilities import can_see_internal
from analysis.selectors import worker_health
from config.celery import app
from outbox.selectors import outbox_backlog


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as error:  # any failure means "not healthy"; say which
        return False, f"{type(error).__name__}: {error}"


def _broker_ok() -> tuple[bool, str]:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"


def _workers(database: bool) -> dict[str, object]:
    if not database:
        return {"state": "unknown", "detail": "database unavailable"}
    try:
        return worker_health()
    except Exception as error:
        return {"state": "unknown", "detail": f"{type(error).__name__}: {error}"}


def _outbox(database: bool) -> dict[str, object]:
    if not database:
        return {"state": "unknown"}
    try:
        return outbox_backlog()
    except Exception as error:
        return {"state": "unknown", "detail": f"{type(error).__name__}: {error}"}


def _may_see_details(request: HttpRequest) -> bool:
    token = settings.HEALTH_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    user = getattr(request, "user", None)
    return user is not None and can_see_internal(user)


def healthz(request: HttpRequest) -> JsonResponse:
    database, database_detail = _database_ok()
    broker, broker_detail = _broker_ok()
    healthy = database and broker
    body: dict[str, object] = {"status": "ok" if healthy else "degraded"}
    if _may_see_details(request):
        body |= {
            "database": database_detail,
            "broker": broker_detail,
            "workers": _workers(database),
            "outbox": _outbox(database),
        }
    return JsonResponse(body, status=200 if healthy else 503)
