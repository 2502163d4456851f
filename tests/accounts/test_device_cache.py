"""A verified session's second-factor device is read from the shared cache, not queried per request
(accounts.two_factor.device_cached); any change to the device reaches the next request at once."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from tests.test_two_factor import _code, _password_login

pytestmark = pytest.mark.django_db

DEVICE_TABLE = TOTPDevice._meta.db_table


@pytest.fixture
def shared(monkeypatch):
    """This process's cache stands for the shared one: the test runs in one process."""
    monkeypatch.setattr(two_factor, "cache_is_shared", lambda: True)


@pytest.fixture
def verified(client, engineer, settings):
    """An engineer signed in with password and code; engineers must use a second factor here, so a
    session that loses its device is sent to set one up again."""
    settings.TWO_FACTOR_REQUIRED_ROLES = ["engineer"]
    device = TOTPDevice.objects.create(user=engineer, name="a", confirmed=True, tolerance=0)
    _password_login(client, "engineer")
    assert client.post("/accounts/two-factor/verify/", {"code": _code(device)}).status_code == 302
    return device


def _device_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/cases/").status_code == 200
    return sum(DEVICE_TABLE in query["sql"] for query in queries.captured_queries)


def test_a_verified_session_reads_its_device_once(shared, client, verified):
    assert _device_queries(client) == 1  # the code's check saved the device, which forgot it
    assert _device_queries(client) == 0
    assert _device_queries(client) == 0


def test_the_cache_keeps_no_secret(shared, client, verified):
    _device_queries(client)
    cached = cache.get(f"otp-device:{verified.persistent_id}")
    assert cached is not None
    assert verified.key not in repr(cached)


def test_a_deleted_device_ends_the_verification_at_once(shared, client, verified):
    _device_queries(client)
    verified.delete()
    response = client.get("/cases/")
    assert response.status_code == 302 and response["Location"] == "/accounts/two-factor/setup/"


def test_a_device_replaced_by_a_new_enrolment_ends_the_old_sessions(shared, client, verified, engineer):
    """A new authenticator deletes the old one with a queryset delete (two_factor_enrolment_confirm)."""
    _device_queries(client)
    TOTPDevice.objects.filter(user=engineer, confirmed=True).delete()
    assert client.get("/cases/")["Location"] == "/accounts/two-factor/setup/"


def test_an_unconfirmed_device_ends_the_verification(shared, client, verified):
    _device_queries(client)
    verified.confirmed = False
    verified.save()
    assert client.get("/cases/")["Location"] == "/accounts/two-factor/setup/"


def test_a_cache_of_one_process_is_not_trusted(client, verified, monkeypatch):
    """Another process's delete could not reach it: every request asks the database."""
    monkeypatch.setattr(two_factor, "cache_is_shared", lambda: False)
    assert _device_queries(client) == 1
    assert _device_queries(client) == 1
