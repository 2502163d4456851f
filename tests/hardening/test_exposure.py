"""Less exposed (issue 14, item 7): anonymous /healthz says only ok or degraded; the error texts (hosts,
ports) are for staff or a bearer token; the API schema and docs need a sign-in unless opened on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from tests.outbox.conftest import BrokerSwitch

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker_down():
    switch = BrokerSwitch()
    switch.down()
    try:
        yield switch
    finally:
        switch.up()


def test_anonymous_healthz_is_only_the_status(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_anonymous_healthz_with_the_broker_down_is_degraded_without_the_error_text(client, broker_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    assert b"127.0.0.1" not in response.content and b"Error" not in response.content


def test_staff_read_which_part_failed(client, engineer, broker_down):
    client.force_login(engineer)
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["broker"].startswith(("OperationalError", "ConnectionRefusedError", "ConnectionError"))
    assert set(body) == {"status", "database", "broker", "workers", "outbox"}


def test_a_customer_reads_only_the_status(client, customer):
    client.force_login(customer)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_health_token_reads_the_details_and_a_wrong_one_does_not(client, settings):
    settings.HEALTH_TOKEN = "s3cret-health"
    good = client.get("/healthz", HTTP_AUTHORIZATION="Bearer s3cret-health").json()
    assert good["database"] == "ok" and good["outbox"]["pending"] == 0
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer guess").json() == {"status": "ok"}
    settings.HEALTH_TOKEN = ""  # unset: no token opens it
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer ").json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_a_sign_in_unless_opened(path, client, api_client, customer, settings):
    settings.API_DOCS_PUBLIC = False
    assert client.get(path).status_code == 401
    client.force_login(customer)
    assert client.get(path).status_code == 200
    token = Token.objects.create(user=customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get(path).status_code == 200
    settings.API_DOCS_PUBLIC = True
    client.logout()
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(("environment", "expected"), [({"DEBUG": "0"}, "False"), ({"DEBUG": "1"}, "True")])
def test_schema_is_closed_by_default_with_debug_off(environment, expected):
    env = {
        **os.environ,
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "portal.example",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **environment,
    }
    env.pop("API_DOCS_PUBLIC", None)
    code = "import django; django.setup(); from django.conf import settings; print(settings.API_DOCS_PUBLIC)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected
