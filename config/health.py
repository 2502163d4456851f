"""``/healthz``: 200 when the database and the Celery broker answer, 503 with the failing part otherwise.

The analysis workers' state is reported too (heartbeat age, jobs waiting) without changing the status:
a load balancer must not take the web tier out because the workers are down.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as error:  # any failure means "not healthy"; say which
        return False, f"{type(error).__name__}: {error}"


def _broker_ok() -> tuple[bool, str]:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"


def _workers(database: bool) -> dict[str, object]:
    if not database:
        return {"state": "unknown", "detail": "database unavailable"}
    from analysis.selectors import worker_health

    try:
        return worker_health()
    except Exception as error:
        return {"state": "unknown", "detail": f"{type(error).__name__}: {error}"}


def healthz(request: HttpRequest) -> JsonResponse:
    database, database_detail = _database_ok()
    broker, broker_detail = _broker_ok()
    healthy = database and broker
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "database": database_detail,
            "broker": broker_detail,
            "workers": _workers(database),
        },
        status=200 if healthy else 503,
    )
