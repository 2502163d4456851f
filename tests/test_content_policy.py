"""The Content Security Policy header built once is the header django-csp builds, and a view that changes
its own policy still gets its change."""

from __future__ import annotations

import pytest
from csp.utils import build_policy

pytestmark = pytest.mark.django_db


def test_every_page_gets_the_policy_of_the_settings(client, engineer, case):
    client.force_login(engineer)
    expected = build_policy()
    for url in ("/accounts/login/", "/cases/", f"/cases/{case.number}/", f"/cases/{case.number}/version/"):
        assert client.get(url)["Content-Security-Policy"] == expected, url
    assert "Content-Security-Policy-Report-Only" not in client.get("/cases/")


def test_a_view_that_updates_its_policy_keeps_its_update(client, manager):
    client.force_login(manager)
    policy = client.get("/api/docs/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "unsafe-inline" not in client.get("/cases/")["Content-Security-Policy"]
