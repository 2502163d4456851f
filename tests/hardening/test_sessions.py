"""A session cookie replayed after logout is worth nothing (research/reliability.md S8)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_old_session_cookie_replayed_after_logout_is_anonymous(customer):
    browser = Client()
    assert browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    stolen = browser.cookies["sessionid"].value
    assert browser.get("/cases/").status_code == 200
    browser.post("/accounts/logout/")
    attacker = Client()
    attacker.cookies["sessionid"] = stolen
    response = attacker.get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert attacker.get("/api/cases/").status_code in (401, 403)
