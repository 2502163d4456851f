"""Request ids, JSON logs and optional error reporting through sentry-sdk."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_every_answer_carries_a_request_id_and_a_clients_uuid_is_kept(client):
    response = client.get("/accounts/login/")
    generated = response["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    mine = str(uuid.uuid4())
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID=mine)["X-Request-ID"] == mine


@pytest.mark.django_db
def test_a_request_id_that_is_not_a_uuid_is_replaced_never_logged(client):
    hostile = 'x"}\n{"level": "CRITICAL", "message": "forged'
    answer = client.get("/accounts/login/", HTTP_X_REQUEST_ID=hostile)["X-Request-ID"]
    assert answer != hostile and "\n" not in answer and len(answer) == 32


def test_json_log_lines_carry_the_request_and_task_ids():

    fmt = settings.LOGGING["formatters"]["json"]
    handler_formatter = JsonFormatter(fmt["fmt"], rename_fields=fmt["rename_fields"])
    record = logging.LogRecord("analysis.tasks", logging.INFO, __file__, 1, "job %s done", (7,), None)
    record.request_id, record.celery_current_id, record.celery_parent_id = "abc", "t1", None
    line = json.loads(handler_formatter.format(record))
    assert line["message"] == "job 7 done" and line["request_id"] == "abc" and line["level"] == "INFO"
    assert line["logger"] == "analysis.tasks" and line["celery_current_id"] == "t1"


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":  # sentry-sdk compresses with brotli when it is installed (py7zr brings it)
            import brotli  # late: only when sentry-sdk chose brotli, so only when it is installed

            body = brotli.decompress(body)
        _Collector.received.append(body)
        self.send_response(200)
        self.end_headers()


def _run_with(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    full.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )


ERROR = """
import django, logging, sentry_sdk
django.setup()
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("analysis.tasks").exception("analysis job 7 failed")
sentry_sdk.flush(5)
print("active" if sentry_sdk.get_client().is_active() else "inactive")
"""


@pytest.mark.slow  # two Django start-ups in subprocesses
def test_with_a_dsn_errors_are_reported_through_sentry_sdk():
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dsn = f"http://publickey@127.0.0.1:{server.server_address[1]}/42"
        result = _run_with({"SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "test"}, ERROR)
    finally:
        server.shutdown()
    assert result.stdout.strip() == "active", result.stderr[-2000:]
    payload = b"\n".join(_Collector.received).decode(errors="replace")
    assert "ZeroDivisionError" in payload and "analysis job 7 failed" in payload
    assert '"environment":"test"' in payload.replace(" ", "")


def test_without_a_dsn_nothing_is_reported():
    result = _run_with({"SENTRY_DSN": ""}, ERROR)
    assert result.stdout.strip() == "inactive", result.stderr[-2000:]
